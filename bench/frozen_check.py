"""What the checks of issue #21 cost a FrozenTreeMap: m[k] for every key
of the urls workload, and a walk in key order, in one process.

    python3 bench/frozen_check.py [--n 200000] [--repeat 15]

Saves a TreeMap of the keys (values: their index, stored inline), opens
the file as a FrozenTreeMap and times, best of --repeat, per key:

  lookup   m[k] for every key, in a shuffled order
  iter     list(m.items()) over the whole map

Run it against two builds of blart (PYTHONPATH pointing at each) to
compare them; bench/README.md records the figures.  CPU time of the
process, as bench/run.py measures, so that other engineers' jobs on this
machine count less.
"""

import argparse
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402

import blart  # noqa: E402


def best_of(repeat, fn):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    kpath, _, n = workloads.prepare(os.path.join(HERE, ".cache"), "urls", args.n)
    keys = workloads.load_keys(kpath)[:n]
    order = keys[:]
    random.Random(5).shuffle(order)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "urls.blart")
        blart.TreeMap({k: i for i, k in enumerate(keys)}).save(path)
        fm = blart.FrozenTreeMap(path)

        def lookups():
            for k in order:
                fm[k]

        def walk():
            list(fm.items())

        lookup = best_of(args.repeat, lookups)
        it = best_of(args.repeat, walk)
        print(f"blart {os.path.dirname(blart.__file__)}")
        print(f"urls n={n}: lookup {lookup / n * 1e9:.1f} ns/key, iter {it / n * 1e9:.1f} ns/key")


if __name__ == "__main__":
    main()
