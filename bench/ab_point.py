"""Point operations of one installed blart against dict, for A/B runs of
two builds on a loaded machine (bench/README.md, "Bucket nodes in the
tree"): run it alternately with each build's interpreter, e.g.

    python3 -m venv /tmp/before && /tmp/before/bin/pip install <old checkout>
    for i in 1 2; do /tmp/before/bin/python bench/ab_point.py before; \\
                     .venv/bin/python bench/ab_point.py after; done

Keys: the benchmark's 1M urls (bench/.cache, made by bench/run.py or
workloads.prepare).  Inserts in random order, then the best of 3 passes
of 1M random hits, then one pass of items(); CPU time.
"""

import random
import sys
import time
from pathlib import Path

from blart import TreeMap

KEYS = Path(__file__).parent / ".cache" / "v3-urls-1000000.keys"


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "blart"
    keys = [k for k in KEYS.read_text().split("\n") if k]
    rng = random.Random(1)
    order = keys[:]
    rng.shuffle(order)
    a = time.process_time()
    m = TreeMap()
    for i, k in enumerate(order):
        m[k] = i
    insert = time.process_time() - a
    a = time.process_time()
    d = {}
    for i, k in enumerate(order):
        d[k] = i
    dict_insert = time.process_time() - a
    look = keys[:]
    rng.shuffle(look)

    def best(mapping: object) -> float:
        least = float("inf")
        for _ in range(3):
            a = time.process_time()
            for k in look:
                mapping[k]  # type: ignore[index]
            least = min(least, time.process_time() - a)
        return least

    hit, dict_hit = best(m), best(d)
    a = time.process_time()
    n = sum(1 for _ in m.items())
    items = time.process_time() - a
    per = 1e9 / len(keys)
    print(
        f"{label}: insert {insert * per:.0f} ns ({insert / dict_insert:.2f} x dict), "
        f"hit {hit * per:.0f} ns ({hit / dict_hit:.2f} x dict), items {items * 1e9 / n:.0f} ns/key"
    )


if __name__ == "__main__":
    main()
