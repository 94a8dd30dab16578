"""Draws the chart of a results JSON written by run.py.

    python chart.py results.json out.png

Panel 1: blart and its peers as a ratio to dict per operation on the
largest urls run (log scale; 1 = as fast as dict, lower is better).
Panel 2: memory held, ratio to dict, per workload at its largest size.
Panel 3: blart's and dict's ns per operation as n grows (urls).
Panel 4 (when the run has persistence rows): per workload, how many times
faster TreeMap.save/TreeMap.load are than pickling/unpickling, and the
memory of a second FrozenTreeMap process as a fraction of the file.
(A --persist-only run draws panel 4 alone.)
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


def draw_maps(axes, entries):
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


def draw_persist(ax, persisted):
    """Speedups over pickle (log scale, higher is better) and the second
    process's memory as a fraction of the file, per workload."""
    bars = [
        ("save vs pickle(TreeMap)", "save_vs_pickle_tree", "#1f77b4"),
        ("load vs unpickle(TreeMap)", "load_vs_unpickle_tree", "#d62728"),
        ("load vs unpickle(dict)", "load_vs_unpickle_dict", "#ff7f0e"),
        ("open vs unpickle(TreeMap)", "open_vs_unpickle_tree", "#2ca02c"),
    ]
    width = 0.8 / (len(bars) + 1)
    for j, (label, key, color) in enumerate(bars):
        xs = [k + (j - len(bars) / 2) * width for k in range(len(persisted))]
        ys = [e["persist"]["ratios"].get(key) or 0 for e in persisted]
        ax.bar(xs, ys, width, label=label, color=color)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.axhline(5.0, color="#d62728", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylabel("pickle time / blart time")
    ax.set_xticks(range(len(persisted)))
    ax.set_xticklabels(["%s\n%dk" % (e["workload"], e["n"] // 1000) for e in persisted])
    ax2 = ax.twinx()
    xs, ys = [], []
    for k, e in enumerate(persisted):
        sm = e["persist"].get("shared_memory", {}).get("second")
        if sm:
            g = sm["growth"]
            xs.append(k + (len(bars) / 2) * width)
            ys.append(g["Private"] / sm["file_bytes"])
    ax2.bar(
        xs, ys, width, color="#7f7f7f", label="2nd FrozenTreeMap process:\nprivate memory / file"
    )
    for x, y in zip(xs, ys):
        ax2.text(x, y + 0.01, "%.3f" % y, ha="center", va="bottom", fontsize=7, rotation=90)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("private memory / file size (grey)")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(
        handles + h2,
        labels + l2,
        fontsize=7,
        ncol=2,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
    )
    ax.set_title("persistence: times faster than pickle;\n5x target dotted (higher is better)")


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        data = json.load(f)
    m = data["machine"]
    entries = [e for e in data["entries"] if e.get("impls")]
    persisted = [e for e in data["entries"] if e.get("persist", {}).get("ratios")]
    widths = ([3, 1.6, 1.4] if entries else []) + ([1.8] if persisted else [])
    if not widths:
        widths = [1]
    fig, axes = plt.subplots(
        1,
        len(widths),
        figsize=((19 + 5 * bool(persisted)) if entries else 10, 6.5),
        gridspec_kw={"width_ratios": widths},
        squeeze=False,
    )
    axes = list(axes[0])
    if entries:
        draw_maps(axes[:3], entries)
    if persisted:
        draw_persist(axes[-1], persisted)

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
