#!/usr/bin/env bash
# Measures the image path of docs/PERFORMANCE.md: the real shm-reader window under
# Xvfb, frames sent by `shm send-image` (encoded, and --raw), 5 sends each; prints
# the reader's per-frame log lines (latency_ms = written_unix_nanos to texture,
# read_ms, decode_ms, ui_ms). Needs xvfb-run; build first:
#   cargo build --release --workspace --bins && docs/measure_image_path.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${INSIDE_XVFB:-}" ]; then
  export XDG_RUNTIME_DIR; XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 "$XDG_RUNTIME_DIR"
  INSIDE_XVFB=1 exec timeout 300 xvfb-run -a -s '-screen 0 1600x900x24' "$0" "$@"
fi
name="imgpath-$$"
log=$(mktemp)
target/release/shm send-struct --name "$name" --capacity 40000000 >/dev/null
RUST_LOG=info target/release/shm-reader --name "$name" >"$log" 2>&1 &
reader_pid=$!
trap 'kill $reader_pid 2>/dev/null || true; rm -f "/dev/shm/$name" "$log"' EXIT
sleep 3
for args in "assets/coffee-1920x1080.png" "--raw assets/coffee-1920x1080.png" \
  "assets/hubble-3840x2160.jpg" "--raw assets/hubble-3840x2160.jpg"; do
  for _ in 1 2 3 4 5; do
    # shellcheck disable=SC2086
    target/release/shm send-image $args --name "$name" >/dev/null
    sleep 1
  done
done
grep "displayed frame" "$log" | sed 's/.*displayed/displayed/'
