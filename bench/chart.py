"""Draws the chart of a results JSON written by run.py.

    python chart.py results.json out.png

Panel 1: blart and its peers as a ratio to dict per operation on the
largest urls run (log scale; 1 = as fast as dict, lower is better).
Panel 2: memory held, ratio to dict, per workload at its largest size.
Panel 3: blart's and dict's ns per operation as n grows (urls).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from run import OPS  # the operations, in the order run.py measures them

COLORS = {
    "blart": "#d62728",
    "dict": "#7f7f7f",
    "blart-py": "#ff7f0e",
    "SortedDict": "#1f77b4",
    "OOBTree": "#2ca02c",
    "marisa-trie": "#9467bd",
    "datrie": "#8c564b",
    "pygtrie": "#e377c2",
}


def largest(entries, workload):
    es = [e for e in entries if e["workload"] == workload]
    return max(es, key=lambda e: e["n"]) if es else None


def ns(e, impl, op):
    r = e["impls"].get(impl, {}).get("time", {}).get("results", {}).get(op)
    return r.get("ns_per_op") if r else None


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        data = json.load(f)
    entries = data["entries"]
    m = data["machine"]
    fig, axes = plt.subplots(1, 3, figsize=(19, 6.5), gridspec_kw={"width_ratios": [3, 1.6, 1.4]})

    ax = axes[0]
    e = largest(entries, "urls") or (entries[0] if entries else None)
    if e:
        impls = [i for i in COLORS if i in e["ratios"] and i != "dict"]
        width = 0.8 / max(1, len(impls))
        for j, impl in enumerate(impls):
            xs, ys = [], []
            for k, op in enumerate(OPS):
                v = e["ratios"][impl].get(op)
                if v:
                    xs.append(k + (j - (len(impls) - 1) / 2) * width)
                    ys.append(v)
            ax.bar(xs, ys, width, label=impl, color=COLORS[impl])
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(OPS)))
        ax.set_xticklabels([o.replace("_", "\n") for o in OPS])
        ax.set_ylabel("time / dict time (prefix, range: / bisect on sorted list)")
        ax.set_title("%s, n=%d: ratio to dict (lower is better)" % (e["workload"], e["n"]))
        ax.legend(fontsize=8, ncol=2)

    ax = axes[1]
    wls = [w for w in ("urls", "hex", "ids", "words") if largest(entries, w)]
    impls = [i for i in COLORS if i != "dict"]
    impls = [
        i for i in impls if any(largest(entries, w)["ratios"].get(i, {}).get("memory") for w in wls)
    ]
    width = 0.8 / max(1, len(impls))
    for j, impl in enumerate(impls):
        xs, ys = [], []
        for k, w in enumerate(wls):
            v = largest(entries, w)["ratios"].get(impl, {}).get("memory")
            if v:
                xs.append(k + (j - (len(impls) - 1) / 2) * width)
                ys.append(v)
        ax.bar(xs, ys, width, label=impl, color=COLORS[impl])
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels(["%s\n%dk" % (w, largest(entries, w)["n"] // 1000) for w in wls])
    ax.set_title("memory held / dict's")
    ax.legend(fontsize=7)

    ax = axes[2]
    es = sorted([x for x in entries if x["workload"] == "urls"], key=lambda x: x["n"])
    if len(es) >= 2:
        for impl, style in (("blart", "-"), ("dict", "--")):
            for op, mk in (("build", "o"), ("lookup_hit", "s"), ("items", "^")):
                pts = [(x["n"], ns(x, impl, op)) for x in es if ns(x, impl, op)]
                if pts:
                    ax.plot(
                        [p[0] for p in pts],
                        [p[1] for p in pts],
                        style,
                        marker=mk,
                        color=COLORS[impl],
                        label="%s %s" % (impl, op),
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("keys (urls)")
        ax.set_ylabel("ns per operation")
        ax.legend(fontsize=7)
        ax.set_title("growth with n")
    else:
        ax.set_axis_off()

    fig.suptitle(
        "blart benchmark %s — %s, %s cores, Python %s, blart %s%s"
        % (
            m["date"],
            m["cpu"],
            m["cores"],
            m["python"].split()[0],
            m.get("git_commit"),
            "+dirty" if m.get("git_dirty_sources") else "",
        ),
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
