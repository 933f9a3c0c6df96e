#!/usr/bin/env bash
# The C API's cost against shm-core called from Rust (docs/PERFORMANCE.md, "C API"):
# a 1920x1080 BGR8 frame sent and received into a buffer, p50/p99, and one
# 48-byte TestData send and receive, ROUNDS times each side, alternating.
#   docs/measure_ffi.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
cargo build -q --release -p shm-ffi --lib --example bench_rust
gcc -O2 -std=c11 -I crates/shm-ffi/include examples/c/bench.c -o target/release/bench_c \
  -Ltarget/release -lshm_exchange -Wl,--disable-new-dtags,-rpath,"$PWD/target/release"
name="ffi-bench-$$"
for ((i = 1; i <= rounds; i++)); do
  target/release/bench_c "$name"
  target/release/examples/bench_rust "$name"
done
rm -f "/dev/shm/$name"
