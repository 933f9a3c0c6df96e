# Shell helpers for the tests that drive real windows under Xvfb (.ci/e2e-gui,
# .ci/windows-gui): find a window by the start of its title, and capture it
# once it has settled or changed. Sourced, not run.

# `xdotool search --sync` hung here even once the window existed; retry instead.
# By the start of the title: the apps add the mapping and their state to it.
# Only a mapped (visible) window: Wine also makes unmapped windows with the same
# title, and `import -window` waits forever on one of those.
find_window() {
  local id
  for _ in $(seq 1 300); do
    id=$(xdotool search --onlyvisible --name "^$1" 2>/dev/null | head -1 || true)
    if [ -n "$id" ]; then echo "$id"; return 0; fi
    sleep 0.2
  done
  echo "FAIL: no window whose title starts with '$1' within 60 s" >&2
  return 1
}

# Captures window $1 into $2 once it shows more than one colour (it has been
# painted) and two captures in a row are the same (painting has settled).
capture_settled() {
  local previous="$2.prev.png"
  for _ in $(seq 1 300); do
    /usr/bin/import -window "$1" "$2" 2>/dev/null || true
    colours=$(/usr/bin/identify -format %k "$2" 2>/dev/null || echo 0)
    if [ "$colours" -gt 1 ] && [ -f "$previous" ] &&
      [ "$(/usr/bin/compare -metric AE "$previous" "$2" null: 2>&1 || true)" = "0" ]; then
      rm -f "$previous"; return 0
    fi
    cp "$2" "$previous" 2>/dev/null || true
    sleep 0.1
  done
  echo "FAIL: window $1 never settled for $2" >&2
  return 1
}

# Captures window $1 into $3 once it differs from $2 by more than 100,000 pixels.
capture_changed_from() {
  for _ in $(seq 1 300); do
    /usr/bin/import -window "$1" "$3" 2>/dev/null || true
    changed=$(/usr/bin/compare -metric AE "$2" "$3" null: 2>&1 || true)
    if [ "${changed%% *}" -gt 100000 ] 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: window $1 never changed from $2 (last: $changed pixels)" >&2
  return 1
}
