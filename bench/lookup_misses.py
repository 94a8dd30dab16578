"""One map of the 1M urls keys, filled by inserts in file order, then
PASSES passes of lookups of every key in a seeded random order: the
program bench/lookup_misses.sh runs under valgrind's cache model with 0
and 1 passes, so that the difference is what the lookups cost (bench/README.md,
"Full run of 2026-12-04").

    python bench/lookup_misses.py {dict,blart} PASSES
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
    which, passes = sys.argv[1], int(sys.argv[2])
    keys = [k for k in KEYS.read_text(encoding="utf-8").split("\n") if k]
    look = keys[:]
    random.Random(1).shuffle(look)
    m: dict[str, int] | TreeMap = {} if which == "dict" else TreeMap()
    fill(m, keys)
    for _ in range(passes):
        lookups(m, look)


if __name__ == "__main__":
    main()
