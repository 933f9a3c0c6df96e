#!/usr/bin/env bash
# The CPU the apps use when nothing arrives (docs/PERFORMANCE.md, "Idle"), each
# in a real window under Xvfb: utime + stime from /proc/PID/stat over SECONDS
# (default 10), after the window showed what it should and 3 s to settle.
#
#   cargo build --release -p shm-reader -p shm-writer -p shm-cli
#   docs/measure_idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
seconds=${1:-10}

if [ -z "${INSIDE_XVFB:-}" ]; then
  export XDG_RUNTIME_DIR; XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_DATA_HOME; XDG_DATA_HOME=$(mktemp -d) # no remembered settings
  unset WAYLAND_DISPLAY WGPU_BACKEND
  INSIDE_XVFB=1 BIN_DIR="$bin" exec xvfb-run -a -s '-screen 0 1920x1080x24' "$0" "$@"
fi

out=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -f /dev/shm/idle-*-$$; }
trap cleanup EXIT
hz=$(getconf CLK_TCK)

wait_for_title() { # $1: the start of a window title; prints the window's id
  # (xdotool's own match does not take the titles' em dashes here.)
  for _ in $(seq 1 300); do
    for id in $(xdotool search --name "^Shared Memory" 2>/dev/null || true); do
      case "$(xdotool getwindowname "$id" 2>/dev/null)" in
        "$1"*) echo "$id"; return 0 ;;
      esac
    done
    sleep 0.2
  done
  echo "no window titled $1..." >&2; return 1
}

measure() { # $1 pid, $2 label
  sleep 3 # start-up work (fonts, first frames) is not idle time
  local before after
  before=$(awk '{print $14 + $15}' "/proc/$1/stat")
  sleep "$seconds"
  after=$(awk '{print $14 + $15}' "/proc/$1/stat")
  awk -v t=$((after - before)) -v all=$((seconds * hz)) -v label="$2" \
    'BEGIN { printf "%s: %d of %d ticks (%.1f%% of a core)\n", label, t, all, 100 * t / all }'
}

reader() { # $1 mapping name, $2 label, $3 title to wait for
  "$bin/shm-reader" --name "$1" --position 0,0 2>"$out/$1.log" &
  local pid=$!; pids+=("$pid")
  wait_for_title "$3" >/dev/null
  measure "$pid" "$2"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== idle for ${seconds} s (release build, Xvfb, software rendering)"
reader "idle-none-$$" "reader, no mapping (waiting for a writer)" \
  "Shared Memory Reader — idle-none-$$ — waiting for the mapping"
"$bin/shm" send-struct --name "idle-struct-$$" --id 7 >/dev/null
reader "idle-struct-$$" "reader, a TestData shown (its dialog open)" \
  "Shared Memory Reader — idle-struct-$$ — attached"
"$bin/shm" send-image --name "idle-image-$$" assets/coffee-1920x1080.png >/dev/null
reader "idle-image-$$" "reader, a 1920x1080 photograph shown" \
  "Shared Memory Reader — idle-image-$$ — frame 1,"
"$bin/shm-writer" --name "idle-writer-$$" --position 0,0 2>"$out/writer.log" &
writer=$!; pids+=("$writer")
wait_for_title "Shared Memory Writer" >/dev/null
measure "$writer" "writer, nothing sent"
