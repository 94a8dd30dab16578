"""How close any prefix query can come to the bisect baseline (issue #4's
"prefix_iter within 1.5x of bisect slicing"), measured in one process.

    python3 bench/prefix_floor.py [--n 1000000] [--repeat 30]

For the urls workload's 300 prefix queries (~64 results each) it times,
best of --repeat, per query:

  bisect slice     the baseline: a slice of a list of ready-made tuples
  zip tuples       list(zip(keys, values)) over each query's result keys:
                   a fresh tuple per result, the keys already made
  C floor          a C function making each key's str from its bytes and
                   a tuple per result (bench/prefix_floor.c): what any
                   implementation returning fresh pairs must do, with no
                   tree walked
  blart            list(m.prefix_iter(p)) on the map built in random order
  blart copy       the same on m.copy(), whose nodes are in key order

The C module is compiled on first use into bench/.build (needs a C compiler
and the Python headers).
"""

import argparse
import bisect
import gc
import os
import random
import subprocess
import sys
import sysconfig
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402


def build_floor():
    out_dir = os.path.join(HERE, ".build")
    target = os.path.join(out_dir, "prefix_floor" + sysconfig.get_config_var("EXT_SUFFIX"))
    source = os.path.join(HERE, "prefix_floor.c")
    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
        os.makedirs(out_dir, exist_ok=True)
        cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
        cmd = cc.split() + ["-shared", "-fPIC", "-O2", "-I" + sysconfig.get_paths()["include"]]
        subprocess.run(cmd + [source, "-o", target], check=True)
    sys.path.insert(0, out_dir)
    import prefix_floor

    return prefix_floor


def best_per_query(fn, count, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best / count * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="keys (urls workload)")
    ap.add_argument("--repeat", type=int, default=30, help="timed runs; the best counts")
    args = ap.parse_args()

    from blart import TreeMap

    floor = build_floor()
    keys = workloads.gen_urls(args.n)
    sk = sorted(set(keys))
    prefixes = workloads.make_prefixes(sk, 300, random.Random(5))
    m = TreeMap()
    for k in keys:  # generation order: random with respect to key order
        m[k] = 1
    laid_out = m.copy()
    items = [(k, 1) for k in sk]
    succ = workloads._succ
    spans = [(bisect.bisect_left(sk, p), bisect.bisect_left(sk, succ(p))) for p in prefixes]
    results = [sk[a:b] for a, b in spans]
    packed = []
    for ks in results:
        ends, total = [], 0
        for k in ks:
            total += len(k)
            ends.append(total)
        packed.append(("".join(ks).encode("ascii"), ends))
    values = [[1] * len(ks) for ks in results]
    assert all(list(m.prefix_iter(p)) == items[a:b] for p, (a, b) in zip(prefixes, spans))
    assert all(floor.pairs(b, e, 1) == items[a:c] for (b, e), (a, c) in zip(packed, spans))

    def bisect_slice():
        for p in prefixes:
            items[bisect.bisect_left(sk, p) : bisect.bisect_left(sk, succ(p))]

    def zip_tuples():
        for ks, vs in zip(results, values):
            list(zip(ks, vs))

    def c_floor():
        for blob, ends in packed:
            floor.pairs(blob, ends, 1)

    def blart():
        for p in prefixes:
            list(m.prefix_iter(p))

    def blart_copy():
        for p in prefixes:
            list(laid_out.prefix_iter(p))

    cases = [
        ("bisect slice", bisect_slice),
        ("zip tuples", zip_tuples),
        ("C floor", c_floor),
        ("blart", blart),
        ("blart copy", blart_copy),
    ]
    gc.disable()
    best = {}
    for _ in range(3):  # interleaved rounds: drift on a shared machine hits all alike
        for name, fn in cases:
            t = best_per_query(fn, len(prefixes), args.repeat)
            best[name] = min(best.get(name, t), t)
    mean = sum(map(len, results)) / len(results)
    print(f"urls n={args.n}: {len(prefixes)} prefix queries, {mean:.1f} results each")
    print(f"{'':16} {'us/query':>9} {'x bisect':>9}")
    for name, _ in cases:
        print(f"{name:16} {best[name]:9.2f} {best[name] / best['bisect slice']:9.2f}")


if __name__ == "__main__":
    main()
