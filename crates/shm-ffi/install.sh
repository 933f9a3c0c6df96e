#!/usr/bin/env bash
# Installs libshm_exchange for C, C++ and C# programs:
#   PREFIX/lib/libshm_exchange.so and .a, PREFIX/include/shm_exchange.h and
#   shm_exchange.hpp, PREFIX/lib/pkgconfig/shm_exchange.pc.
#
#   crates/shm-ffi/install.sh [PREFIX [LIB_DIR]]
#
# PREFIX defaults to /usr/local. Without LIB_DIR it builds the library first
# (cargo build --release -p shm-ffi) and installs target/release's; with LIB_DIR
# it installs the libshm_exchange.so/.a found there (the tests pass the build
# they use). Then: cc app.c $(pkg-config --cflags --libs shm_exchange)
# (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a prefix pkg-config does not search).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${1:-/usr/local}"
lib_dir="${2:-}"
if [ -z "$lib_dir" ]; then
  (cd "$here/../.." && cargo build --release -p shm-ffi)
  lib_dir="$here/../../target/release"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../../Cargo.toml" | head -1)"
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 755 "$lib_dir/libshm_exchange.so" "$prefix/lib/"
install -m 644 "$lib_dir/libshm_exchange.a" "$prefix/lib/"
install -m 644 "$here/include/shm_exchange.h" "$here/include/shm_exchange.hpp" "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$here/shm_exchange.pc.in" \
  > "$prefix/lib/pkgconfig/shm_exchange.pc"
echo "installed libshm_exchange $version in $prefix"
