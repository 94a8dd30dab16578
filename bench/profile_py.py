"""One blart operation in a long loop, to be profiled from outside:

    perf record -e cpu-clock -g -o /tmp/perf.data \\
        bench/.venv-bench/bin/python bench/profile_py.py lookup_hit 1000000 10
    perf report -i /tmp/perf.data --no-children --sort dso,symbol | head -40

OP is build, lookup_hit, lookup_fresh, items, prefix, delete (N keys of
the urls workload, from bench/.cache) or fuzzy1, fuzzy2 (the words list,
300 typo queries at distance 1 or 2); REPS repetitions of
the operation after one build, so the build's share of the profile is
small for the other operations.  Prints the seconds spent in setup and in
the loop, so a profile's percentages can be scaled to ns per operation.
"""

import gc
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads

import blart


def main():
    op = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
    # fuzzy1/fuzzy2 search the words list (all of it; N is ignored)
    wl = "words" if op.startswith("fuzzy") else "urls"
    kpath, qpath, n = workloads.prepare(cache, wl, None if wl == "words" else n)
    keys = workloads.load_keys(kpath)
    with open(qpath) as f:
        q = json.load(f)
    hit = keys[:]
    random.Random(1).shuffle(hit)
    gc.disable()
    t0 = time.process_time()
    m = blart.TreeMap()
    for k in keys:
        m[k] = 1
    t1 = time.process_time()
    blob = "\n".join(hit).encode()
    total_ops = 0
    t2 = time.process_time()
    loop_s = 0.0
    for _ in range(reps):
        if op == "build":
            m = blart.TreeMap()
            s = time.process_time()
            for k in keys:
                m[k] = 1
            loop_s += time.process_time() - s
            total_ops += n
        elif op == "lookup_hit":
            s = time.process_time()
            for k in hit:
                m[k]
            loop_s += time.process_time() - s
            total_ops += n
        elif op == "lookup_fresh":
            fresh = blob.decode().split("\n")
            s = time.process_time()
            for k in fresh:
                m[k]
            loop_s += time.process_time() - s
            total_ops += n
            del fresh
        elif op == "items":
            s = time.process_time()
            for k, v in m.items():
                pass
            loop_s += time.process_time() - s
            total_ops += n
        elif op == "prefix":
            s = time.process_time()
            for p in q["prefixes"]:
                list(m.prefix_iter(p))
            loop_s += time.process_time() - s
            total_ops += len(q["prefixes"])
        elif op in ("fuzzy1", "fuzzy2"):
            d = int(op[-1])
            s = time.process_time()
            for x in q["fuzzy"]:
                list(m.fuzzy_search(x, d))
            loop_s += time.process_time() - s
            total_ops += len(q["fuzzy"])
        elif op == "delete":
            s = time.process_time()
            for k in hit:
                del m[k]
            loop_s += time.process_time() - s
            total_ops += n
            for k in keys:
                m[k] = 1
        else:
            raise SystemExit("unknown op " + op)
    t3 = time.process_time()
    print(
        "setup build %.2fs; %s: %d ops in %.2fs loop (%.1f ns/op), %.2fs with setup of each rep"
        % (t1 - t0, op, total_ops, loop_s, loop_s / total_ops * 1e9, t3 - t2),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
