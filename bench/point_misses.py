"""Point operations on the 1M urls keys for bench/point_misses.sh, which
runs this under valgrind's cache model with COUNT 0 and 1 and takes the
difference as the cost of the operation (bench/README.md, "Full run of
2026-12-04"):

  insert  COUNT times: an empty map filled by `m[k] = 1` for every key in
          file order
  lookup  the map filled once, then COUNT passes of `m[k]` over every key
          in a seeded random order

    python bench/point_misses.py {dict,blart} {insert,lookup} COUNT
"""

import random
import sys
from pathlib import Path

from blart import TreeMap

KEYS = Path(__file__).parent / ".cache" / "v3-urls-1000000.keys"


def fill(m: dict[str, int] | TreeMap, keys: list[str]) -> None:
    for k in keys:
        m[k] = 1


def lookups(m: dict[str, int] | TreeMap, keys: list[str]) -> None:
    for k in keys:
        m[k]


def main() -> None:
    which, op, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keys = [k for k in KEYS.read_text(encoding="utf-8").split("\n") if k]
    look = keys[:]
    random.Random(1).shuffle(look)

    def empty() -> dict[str, int] | TreeMap:
        return {} if which == "dict" else TreeMap()

    if op == "insert":
        for _ in range(count):
            fill(empty(), keys)
        return
    m = empty()
    fill(m, keys)
    for _ in range(count):
        lookups(m, look)


if __name__ == "__main__":
    main()
