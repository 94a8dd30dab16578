"""Filling a map from a batch in key order, and walking what was filled,
measured in one process.

    python3 bench/build_batch.py [--workload urls] [--n 1000000] [--repeat 5]

The batch is the workload's keys, each mapped to its position, as a list
of (key, value) pairs.  Timed in CPU time, best of --repeat rounds, the rounds
interleaved so that the machine's drift falls on every row alike:

  dict(sorted)        dict(pairs), the pairs in key order: the baseline
  blart built         TreeMap(pairs) in key order: built at once
  blart one by one    TreeMap(iter(pairs)) in key order: the same pairs
                      through an iterator, which the builder does not
                      take, so each goes in alone (what the constructor
                      did with every batch before it had a builder)
  blart random        TreeMap(pairs) in a random order: one by one
  SortedDict          sortedcontainers.SortedDict(pairs) in key order,
                      when sortedcontainers is installed

then list(m.items()) over the map built at once, over the one filled in
random order, and over dict's items of sorted pairs.  Run where blart is
installed (make bench-build uses the project's venv).
"""

import argparse
import gc
import os
import platform
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402

from blart import TreeMap  # noqa: E402

try:
    from sortedcontainers import SortedDict
except ImportError:
    SortedDict = None


def timed(fn):
    """CPU time of one call (the machine is shared: waiting for a core is
    not the code's cost); the result is freed after the clock stops."""
    gc.collect()
    t0 = time.process_time()
    result = fn()
    t = time.process_time() - t0
    del result
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="urls", choices=workloads.WORKLOADS)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    kpath, _, n = workloads.prepare(os.path.join(HERE, ".cache"), args.workload, args.n)
    keys = sorted(set(workloads.load_keys(kpath)))
    pairs = [(k, i) for i, k in enumerate(keys)]
    shuffled = pairs[:]
    random.Random(5).shuffle(shuffled)
    built = TreeMap(pairs)
    randomly = TreeMap(shuffled)
    plain = dict(pairs)
    assert built == randomly == plain

    fills = {
        "dict(sorted)": lambda: dict(pairs),
        "blart built": lambda: TreeMap(pairs),
        "blart one by one": lambda: TreeMap(iter(pairs)),
        "blart random": lambda: TreeMap(shuffled),
    }
    if SortedDict is not None:
        fills["SortedDict"] = lambda: SortedDict(pairs)
    walks = {
        "dict items": lambda: list(plain.items()),
        "blart built items": lambda: list(built.items()),
        "blart random items": lambda: list(randomly.items()),
    }
    best = {}
    for _ in range(args.repeat):
        for name, fn in list(fills.items()) + list(walks.items()):
            t = timed(fn)
            best[name] = min(best.get(name, t), t)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        commit = "?"
    print(
        "%s n=%d (%d unique keys), best of %d, %s, Python %s, commit %s, %s"
        % (
            args.workload,
            n,
            len(keys),
            args.repeat,
            platform.machine(),
            platform.python_version(),
            commit or "?",
            time.strftime("%Y-%m-%d"),
        )
    )
    for group, base in ((fills, "dict(sorted)"), (walks, "dict items")):
        for name in group:
            print(
                "  %-20s %8.1f ns/key  %5.2fx %s"
                % (name, best[name] / len(keys) * 1e9, best[name] / best[base], base)
            )


if __name__ == "__main__":
    main()
