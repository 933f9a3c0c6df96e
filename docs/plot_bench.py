"""Plots `shm bench --json` output: median one-way latency against payload size.

    target/release/shm bench --json > /tmp/bench.json
    python3 docs/plot_bench.py /tmp/bench.json docs/latency.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = json.load(open(sys.argv[1]))
series = {}
for r in rows:
    label = r["transport"] if r["mode"] == "-" else f'{r["transport"]} {r["mode"]}'
    series.setdefault(label, []).append((r["size_bytes"], r["p50_us"]))
fig, ax = plt.subplots(figsize=(8, 5))
for label, points in sorted(series.items()):
    points.sort()
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("payload size (bytes)")
ax.set_ylabel("median one-way latency (us)")
ax.set_title("shm bench: one-way latency by transport (2-core machine)")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
