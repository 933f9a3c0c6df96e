#!/usr/bin/env bash
# Measures the real reader window under Xvfb (docs/PERFORMANCE.md, "Reader").
#
#   apt-get install mpv        # the anchor (Debian's mpv 0.35)
#   cargo build --release -p shm-reader -p shm-cli
#   docs/measure_reader.sh [SECONDS_PER_RATE] [MEMORY_SECONDS]   (defaults 20 and 300)
#
# 1. Displayed fps, received fps and send-to-screen latency (p50/p99 over each
#    second, from the reader's hidden --stats-log), and the reader's CPU, for
#    raw RGBA streams from `shm stream --raw` of 1280x720 and 1920x1080 frames
#    at 30 and 60 fps. The first 5 s of each run are left out (window start-up).
#    Then the same frames played by mpv (OpenGL output, software rendering
#    allowed) in a window of the reader's default size (820x860) on the same
#    display: its displayed fps (a video tick that moved to another frame
#    number counts once; fps.lua below) and its CPU.
# 2. The reader's resident memory (VmRSS) during MEMORY_SECONDS of a 1920x1080
#    raw stream at 30 fps, once with the window visible and once with it
#    unmapped (xdotool windowunmap), both at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
per_rate=${1:-20}
[ "$per_rate" -ge 8 ] || { echo "SECONDS_PER_RATE must be at least 8 (5 s of start-up are left out)" >&2; exit 2; }
memory_seconds=${2:-300}

if [ -z "${INSIDE_XVFB:-}" ]; then
  export XDG_RUNTIME_DIR; XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 "$XDG_RUNTIME_DIR"
  unset WAYLAND_DISPLAY WGPU_BACKEND
  INSIDE_XVFB=1 BIN_DIR="$bin" exec xvfb-run -a -s '-screen 0 1920x1080x24' "$0" "$@"
fi

out=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -f /dev/shm/measure-*-$$; rm -rf "$out"; }
trap cleanup EXIT

# Frames of each size (two pictures, so consecutive frames differ).
for size in 1280x720 1920x1080; do
  convert assets/coffee-1920x1080.png -resize "$size!" "$out/a-$size.png"
  convert assets/hubble-3840x2160.jpg -resize "$size!" "$out/b-$size.png"
done

wait_for_window() { # prints the id of the reader window whose title names mapping $1
  for _ in $(seq 1 300); do
    for id in $(xdotool search --name "^Shared Memory Reader" 2>/dev/null || true); do
      case "$(xdotool getwindowname "$id" 2>/dev/null)" in
        "Shared Memory Reader — $1 — "*) echo "$id"; return 0 ;;
      esac
    done
    sleep 0.2
  done
  echo "no reader window for $1" >&2; return 1
}

summarise() { # $1 stats log, $2 label
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows[5:] if r["latency_p50_ms"] is not None]
if not rows:
    print(f"{sys.argv[2]}: no samples"); sys.exit()
med = lambda k: statistics.median(r[k] for r in rows)
last = rows[-1]
print(f"{sys.argv[2]}: displayed {med('displayed_fps'):.1f} fps, received {med('received_fps'):.1f} fps, "
      f"latency p50 {med('latency_p50_ms'):.1f} ms, p99 {med('latency_p99_ms'):.1f} ms "
      f"(medians of {len(rows)} one-second windows; worst p99 {max(r['latency_p99_ms'] for r in rows):.1f} ms); "
      f"dropped: {last['missed_in_mapping']} never seen, {last['replaced_before_display']} replaced "
      f"of {last['received'] + last['missed_in_mapping']} frames")
PY
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, 1/100 s
cpu_percent() { # $1 pid: its CPU (% of one core) from 5 s after now until $2 s after now
  sleep 5; local t0; t0=$(cpu_ticks "$1"); sleep "$(($2 - 5))"
  echo $(( ($(cpu_ticks "$1") - t0) / ($2 - 5) )) # 100 ticks a second: ticks/s = %
}

echo "== displayed fps and send-to-screen latency, ${per_rate} s per run"
for size in 1280x720 1920x1080; do
  for fps in 30 60; do
    name="measure-$size-$fps-$$"
    "$bin/shm-reader" --name "$name" --position 0,0 --stats-log "$out/$name.jsonl" 2>"$out/$name.log" &
    reader=$!; pids+=("$reader")
    "$bin/shm" stream --name "$name" --capacity $((16 << 20)) --fps "$fps" --raw --seconds "$per_rate" \
      "$out/a-$size.png" "$out/b-$size.png" >"$out/$name.stream.json" &
    stream=$!; pids+=("$stream")
    wait_for_window "$name" >/dev/null
    cpu=$(cpu_percent "$reader" $((per_rate - 2)))
    wait "$stream"
    kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true
    summarise "$out/$name.jsonl" "$size raw RGBA at $fps fps"
    echo "  reader CPU: ${cpu}% of one core"
    rm -f "/dev/shm/$name"
  done
done

echo "== the same frames in mpv (--vo=gpu --gpu-api=opengl), ${per_rate} s per run"
if ! command -v mpv >/dev/null; then
  echo "mpv is not installed (apt-get install mpv): no anchor measured"
else
cat >"$out/fps.lua" <<'LUA'
-- Prints the frames mpv displayed in each second (a video tick that moved to
-- another frame number counts once) and its dropped-frame count so far.
local shown, previous = 0, nil
mp.register_event("tick", function()
  local n = mp.get_property_number("estimated-frame-number")
  if n ~= nil and n ~= previous then shown = shown + 1 end
  previous = n
end)
local last, last_t = 0, mp.get_time()
mp.add_periodic_timer(1, function()
  local t = mp.get_time()
  io.stderr:write(string.format("MPVSTAT %.2f %d\n", (shown - last) / (t - last_t),
    mp.get_property_number("frame-drop-count", 0)))
  last, last_t = shown, t
end)
LUA
for size in 1280x720 1920x1080; do
  convert "$out/a-$size.png" -depth 8 "rgba:$out/a.rgba"
  convert "$out/b-$size.png" -depth 8 "rgba:$out/b.rgba"
  for _ in $(seq 15); do cat "$out/a.rgba" "$out/b.rgba"; done >"$out/clip.rgba"
  for fps in 30 60; do
    mpv --no-config --script="$out/fps.lua" --geometry=820x860+0+0 --vo=gpu --gpu-api=opengl \
      --gpu-sw=yes --no-audio --loop-file=inf --demuxer=rawvideo \
      --demuxer-rawvideo-w="${size%x*}" --demuxer-rawvideo-h="${size#*x}" \
      --demuxer-rawvideo-mp-format=rgba --demuxer-rawvideo-fps="$fps" "$out/clip.rgba" \
      >"$out/mpv.log" 2>&1 &
    player=$!; pids+=("$player")
    cpu=$(cpu_percent "$player" $((per_rate - 2)))
    kill "$player" 2>/dev/null || true; wait "$player" 2>/dev/null || true
    python3 - "$out/mpv.log" "$size raw RGBA at $fps fps" "$cpu" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("MPVSTAT")][5:]
if not rows:
    print(f"mpv {sys.argv[2]}: no samples"); sys.exit()
print(f"mpv {sys.argv[2]}: displayed {statistics.median(float(r[1]) for r in rows):.1f} fps "
      f"(median of {len(rows)} one-second windows), dropped {rows[-1][2]}, CPU {sys.argv[3]}% of one core")
PY
  done
done
rm -f "$out/clip.rgba" "$out/a.rgba" "$out/b.rgba"
fi

echo "== resident memory over ${memory_seconds} s of 1920x1080 raw at 30 fps (visible and hidden at once)"
start_reader() { # $1 name, $2 x
  "$bin/shm-reader" --name "$1" --position "$2,0" 2>"$out/$1.log" &
  pids+=("$!")
  "$bin/shm" stream --name "$1" --capacity $((16 << 20)) --fps 30 --raw --seconds "$memory_seconds" \
    "$out/a-1920x1080.png" "$out/b-1920x1080.png" >/dev/null &
  pids+=("$!")
}
start_reader "measure-visible-$$" 0
visible=${pids[-2]}
start_reader "measure-hidden-$$" 900
hidden=${pids[-2]}
wait_for_window "measure-visible-$$" >/dev/null
xdotool windowunmap "$(wait_for_window "measure-hidden-$$")"
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
echo "seconds  visible_MiB  hidden_MiB"
for t in $(seq 0 30 "$memory_seconds"); do
  [ "$t" -gt 0 ] && sleep 30
  echo "$t  $(rss "$visible")  $(rss "$hidden")"
done
