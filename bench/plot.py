"""Plots GET and list figures against store size from docs/benchmarks.json."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

source, target = sys.argv[1], sys.argv[2]
scale = json.load(open(source))["scale"]
fig, (rate, tail) = plt.subplots(1, 2, figsize=(11, 4.2))
series = [("get", 32, "GET /providers/{id}, c=32"), ("get", 64, "GET /providers/{id}, c=64"),
          ("list", 1, "GET /providers?limit=100, c=1"), ("list", 16, "GET /providers?limit=100, c=16")]
for scenario, c, label in series:
    points = sorted((p["size"], p["rps"], p["p99_ms"]) for p in scale
                    if p["scenario"] == scenario and p["concurrency"] == c)
    if not points:
        continue
    sizes = [p[0] for p in points]
    rate.plot(sizes, [p[1] for p in points], marker="o", label=label)
    tail.plot(sizes, [p[2] for p in points], marker="o", label=label)
for ax, title, unit in [(rate, "Throughput", "requests/s"), (tail, "p99 latency", "ms")]:
    ax.set_xscale("log")
    ax.set_xlabel("providers in the store (10 models each)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
rate.legend(fontsize=8)
fig.suptitle("modelgate: cost against store size (one run, server and wrk on separate cores)")
fig.tight_layout()
fig.savefig(target, dpi=110)
print(f"wrote {target}")
