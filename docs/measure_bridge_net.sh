#!/usr/bin/env bash
# The bridge on shaped links (docs/PERFORMANCE.md, "Bridge between two hosts, on shaped links"):
# two network namespaces joined by a veth pair whose A side is limited with tc
# (tbf) to each RATE; a 1920x1080 BGR8 stream panning across real photographs
# at 30 fps (crates/shm-bridge/examples/pan.rs) goes A -> publish -> subscribe
# -> B for SECONDS, raw and with each compression. Prints one JSON line per run:
# frames per second delivered, latency written-in-A to readable-in-B p50/p99,
# CPU per side, compression ratio, link rate, PSNR (lossy).
# Root only.   docs/measure_bridge_net.sh [SECONDS [RATES...]]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
shift || true
rates=("$@")
((${#rates[@]})) || rates=(1gbit 100mbit)
cargo build -q --release -p shm-bridge --bin shm-bridge --example pan
bridge="$PWD/target/release/shm-bridge"
pan="$PWD/target/release/examples/pan"
out="$(mktemp -d)"
a=shmmeasA$$ b=shmmeasB$$
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  ip netns del $a 2>/dev/null || true
  ip netns del $b 2>/dev/null || true
  rm -f /dev/shm/measure-a-$$ /dev/shm/measure-b-$$
  rm -rf "$out"
}
trap cleanup EXIT
ip netns add $a
ip netns add $b
ip link add vma$$ netns $a type veth peer name vmb$$ netns $b
ip -n $a addr add 10.250.0.1/24 dev vma$$
ip -n $b addr add 10.250.0.2/24 dev vmb$$
for ns in $a $b; do ip -n $ns link set lo up; done
ip -n $a link set vma$$ up
ip -n $b link set vmb$$ up

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for rate in "${rates[@]}"; do
  ip netns exec $a tc qdisc replace dev vma$$ root tbf rate "$rate" burst 1mb latency 50ms
  for compress in none zstd jpeg; do
    rm -f /dev/shm/measure-a-$$ /dev/shm/measure-b-$$
    "$pan" measure-a-$$ 25 0.04 >/dev/null # creates A with one frame
    ip netns exec $b "$bridge" subscribe --key measure --name measure-b-$$ --capacity 16777216 \
      --listen tcp/10.250.0.2:7447 --insecure --no-multicast-scouting --json \
      >"$out/sub.jsonl" 2>"$out/sub.log" &
    sub=$!
    ip netns exec $a "$bridge" publish --key measure --name measure-a-$$ --compress $compress \
      --connect tcp/10.250.0.2:7447 --no-multicast-scouting --json \
      >"$out/pub.jsonl" 2>"$out/pub.log" &
    pub=$!
    # Ready when B holds A's first frame (the subscriber asks for it).
    for _ in $(seq 300); do [ -s "$out/sub.jsonl" ] && break; sleep 0.1; done
    [ -s "$out/sub.jsonl" ] || { echo "the subscriber never got A's first frame:" >&2; cat "$out"/*.log >&2; exit 1; }
    pub_cpu0=$(cpu_ticks $pub)
    sub_cpu0=$(cpu_ticks $sub)
    lines0=$(wc -l <"$out/sub.jsonl")
    "$pan" measure-a-$$ 30 "$seconds" >"$out/pan.json"
    pub_cpu1=$(cpu_ticks $pub)
    sub_cpu1=$(cpu_ticks $sub)
    # The last frame, then the PSNR of B against A.
    last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$out/pan.json")
    for _ in $(seq 50); do
      tail -n1 "$out/sub.jsonl" | grep -q "\"source_frame\":$((last + 1))," && break
      sleep 0.1
    done
    psnr=$("$pan" --psnr measure-a-$$ measure-b-$$)
    kill $pub $sub 2>/dev/null || true
    wait $pub $sub 2>/dev/null || true
    python3 - "$out/sub.jsonl" "$lines0" "$seconds" "$rate" "$compress" "$psnr" \
      "$((pub_cpu1 - pub_cpu0))" "$((sub_cpu1 - sub_cpu0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, skip, seconds, rate, compress, psnr, pub_ticks, sub_ticks, hz = sys.argv[1:]
lines = [json.loads(l) for l in open(path)][int(skip):]
lat = sorted(l["latency_micros"] / 1000 for l in lines)
pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None
wire = sum(l["wire_len"] for l in lines)
payload = sum(l["payload_len"] for l in lines)
print(json.dumps({
    "rate": rate, "compress": compress,
    "fps_delivered": round(len(lines) / float(seconds), 1),
    "latency_p50_ms": pick(0.5), "latency_p99_ms": pick(0.99),
    "publisher_cpu_percent": round(100 * int(pub_ticks) / int(hz) / float(seconds)),
    "subscriber_cpu_percent": round(100 * int(sub_ticks) / int(hz) / float(seconds)),
    "compression_ratio": round(payload / wire, 2) if wire else None,
    "link_mbit_per_s": round(wire * 8 / float(seconds) / 1e6, 1),
    "psnr": json.loads(psnr),
}))
PY
  done
done
