#!/usr/bin/env bash
# Ours (shmexchangesink -> shmexchangesrc) against GStreamer's own shmsink -> shmsrc,
# in one run on this machine: live I420 frames at 30 fps, 1920x1080 and 3840x2160,
# a writer process and a reader process (crates/shm-gst/examples/gst_bench.rs).
# For each: frames per second received, latency sink in -> source out (p50/p99,
# stamped into the frame on the monotonic clock), and CPU of each process (% of one
# core, from /proc over the run after a 3 s warm-up). The writer's CPU includes
# videotestsrc filling frames (the same work for both transports).
#
#   docs/measure_gstreamer.sh [SECONDS per run, default 15]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
cargo build --release -q -p shm-gst --example gst_bench
bench=${CARGO_TARGET_DIR:-target}/release/examples/gst_bench

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, 1/100 s

echo "| size | transport | fps received | latency p50 / p99 (ms) | writer CPU | reader CPU |"
echo "|---|---|---|---|---|---|"
for size in 1920x1080 3840x2160; do
  for transport in shm ours ours-nocrc; do
    name="gstbench-$$-$transport"
    rm -f "/dev/shm/$name" "/tmp/$name"
    "$bench" writer "$transport" "$size" 30 $((seconds + 4)) "$name" &
    writer=$!
    # The reader starts once the writer's socket or mapping exists.
    for _ in $(seq 1 200); do
      { [ -e "/dev/shm/$name" ] || [ -S "/tmp/$name" ]; } && break
      sleep 0.05
    done
    "$bench" reader "$transport" "$size" "$seconds" "$name" >"/tmp/$name.json" &
    reader=$!
    sleep 3
    w0=$(cpu_ticks "$writer"); r0=$(cpu_ticks "$reader")
    sleep $((seconds - 4))
    w1=$(cpu_ticks "$writer"); r1=$(cpu_ticks "$reader")
    wait "$reader"; wait "$writer" || true
    python3 - "/tmp/$name.json" "$size" "$transport" $(((w1 - w0) / (seconds - 4))) $(((r1 - r0) / (seconds - 4))) <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
label = {"shm": "shmsink -> shmsrc", "ours": "shmexchangesink -> shmexchangesrc",
         "ours-nocrc": "shmexchangesink crc32=false -> shmexchangesrc"}[sys.argv[3]]
print(f"| {sys.argv[2]} | {label} | {result['fps']} | {result['latency_p50_ms']:.2f} / {result['latency_p99_ms']:.2f} "
      f"| {sys.argv[4]}% | {sys.argv[5]}% |")
PY
    rm -f "/dev/shm/$name" "/tmp/$name" "/tmp/$name.json"
  done
done
