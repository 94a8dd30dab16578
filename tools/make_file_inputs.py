"""Writes the seed corpus of fuzz_file.c: small files saved by blart.

Run with an interpreter that has blart installed:
    python tools/make_file_inputs.py core/fuzz/file_corpus
"""

import pathlib
import sys

from blart import BytesTreeMap, TreeMap


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    words = ["", "a", "ab", "abc", "abd", "b", "ba", "café", "cafe", "\ud800", "日本"]
    maps = {
        "empty": TreeMap(),
        "one": TreeMap({"only": 1}),
        "words": TreeMap({w: i for i, w in enumerate(words)}),
        "values": TreeMap({"i": 2**70, "f": 1.5, "s": "é", "b": b"x", "n": None, "t": True}),
        "node16": BytesTreeMap({bytes([c]): c for c in range(0, 40, 2)}),
        # Node4 and Node16 at both their sizes: 2, 3, 5 and 9 children.
        "sizes": BytesTreeMap(
            {bytes([p, c]): c for p, n in zip(b"wxyz", (2, 3, 5, 9)) for c in range(n)}
        ),
        "node48": BytesTreeMap({b"k" + bytes([c]): c for c in range(20)}),
        "node256": BytesTreeMap({bytes([c]): c for c in range(0, 256, 5)}),
        "chain": BytesTreeMap({b"x" * i: i for i in range(40)}),
        "long": BytesTreeMap({b"p" * 300: 1, b"p" * 300 + b"q": 2, b"z" * 500: 3}),
    }
    for name, m in maps.items():
        m.save(out / f"{name}.blart")


if __name__ == "__main__":
    main()
