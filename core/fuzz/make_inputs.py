"""Writes the hand-made inputs of the ART fuzzer: the seed corpus and the
regression inputs.  The byte format is described at the top of
fuzz_art.c; this script spells inputs as operations so that they can be
read and changed.  Run it from anywhere:

    python3 core/fuzz/make_inputs.py

It rewrites core/fuzz/corpus/* and core/fuzz/regressions/* with the
inputs defined below (files of other names are left alone).  To read an
input back as operations, run the fuzzer on it with FUZZ_ART_TRACE=1.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent

OPS = {
    name: code
    for code, name in enumerate(
        "INSERT DELETE SEARCH BULK LONG SEEK STEP ENDS SKIP PREFIX COPY MOVE"
        " CLEAR FUZZY FUZZY_NEXT FAIL FOREACH REBIND".split()
    )
}
BYTES, UTF8 = b"\x00", b"\x01"  # the mode byte that starts an input


def raw(symbols):
    """A key of up to 7 raw symbols (bytes, or code point table indexes)."""
    assert len(symbols) <= 7
    return bytes([len(symbols) << 2]) + symbols


def existing(index, other_tree=False):
    """The key at index (modulo the tree's size) of the tree, or the other."""
    return bytes([1 | (4 if other_tree else 0), index])


def edited(edit, index, pos=0, symbol=b""):
    """An existing key with an edit: 0 append, 1 drop last, 2 drop two,
    3 substitute at pos, 4 insert at pos, 5 delete at pos."""
    return bytes([2 | (edit << 2), index, pos]) + symbol


def op(name, arg, *rest):
    return bytes([OPS[name], arg]) + b"".join(rest)


def step(cursor, forward, count):
    return op("STEP", cursor | (forward << 1) | ((count - 1) << 2))


CORPUS = {
    # A Node256 built under one prefix and shrunk back through Node48,
    # Node16 and Node4, with cursor walks across the changes.
    "node256_shrink": BYTES
    + op("BULK", 0, raw(b"ab"), bytes([0, 255]))
    + op("SEEK", 0, raw(b"ab\x80"))
    + step(0, 1, 8)
    + step(0, 0, 8)
    + op("BULK", 2, raw(b"ab"), bytes([0, 219]))
    + step(0, 1, 4)
    + op("BULK", 2, raw(b"ab"), bytes([220, 30]))
    + step(0, 0, 4)
    + op("FOREACH", 0, b"\x05"),
    # Keys that are prefixes of one another; prefix walks, skip, and
    # steps after a deletion (which re-seek).
    "prefix_chain": BYTES
    + op("INSERT", 0, raw(b""), b"\x01")
    + op("INSERT", 0, raw(b"k"), b"\x02")
    + op("INSERT", 0, raw(b"key"), b"\x03")
    + op("INSERT", 0, raw(b"key1"), b"\x04")
    + op("INSERT", 0, raw(b"key123"), b"\x05")
    + op("INSERT", 0, raw(b"kez"), b"\x06")
    + op("PREFIX", 0, raw(b"key12"), b"\x02")
    + op("PREFIX", 0, raw(b"key1234"), b"\x00")
    + op("ENDS", 2)
    + step(0, 1, 2)
    + op("SKIP", 0, b"\x02")
    + op("DELETE", 0, raw(b"key"))
    + step(0, 0, 3)
    + op("SEEK", 1 << 1, existing(3))
    + op("SEEK", 3 << 1, edited(1, 3)),
    # UTF-8 keys of every encoded length; fuzzy search counting code
    # points, then bytes, with a deletion between two steps.
    "utf8_fuzzy": UTF8
    + op("INSERT", 0, raw(bytes([0, 1, 2, 9])), b"\x01")
    + op("INSERT", 0, raw(bytes([0, 1, 2, 17])), b"\x02")
    + op("INSERT", 0, raw(bytes([0, 9, 2])), b"\x03")
    + op("INSERT", 0, raw(bytes([24, 25, 26])), b"\x04")
    + op("BULK", 2 << 3, raw(bytes([0, 1])), bytes([0, 40]))
    + op("FUZZY", 2 | (1 << 2), raw(bytes([0, 1, 2, 3])))
    + op("FUZZY_NEXT", 15 << 1)
    + op("FUZZY", 2 << 2, existing(2))
    + op("FUZZY_NEXT", 2 << 1)
    + op("DELETE", 0, existing(7))
    + op("FUZZY_NEXT", 15 << 1),
    # Byte-distance fuzzy search while keys come and go between steps.
    "fuzzy_bytes": BYTES
    + op("BULK", 0, raw(b"cat"), bytes([ord("a"), 25]))
    + op("INSERT", 0, raw(b"cart"), b"\x07")
    + op("INSERT", 0, raw(b"ca"), b"\x08")
    + op("FUZZY", 1 << 2, raw(b"cat"))
    + op("FUZZY_NEXT", 3 << 1)
    + op("INSERT", 0, raw(b"catz"), b"\x09")
    + op("DELETE", 0, raw(b"cath"))
    + op("FUZZY_NEXT", 15 << 1)
    + op("FUZZY", 7 << 2, raw(b""))
    + op("FUZZY_NEXT", 15 << 1),
    # Injected allocation failures in inserts, deletes (node shrinks),
    # cursor moves, a copy and a fuzzy search.
    "alloc_fail": BYTES
    + op("BULK", 1 << 2, raw(b"x"), bytes([0, 60]), b"y")
    + op("FAIL", 3 << 1)
    + op("BULK", 0, raw(b"xz"), bytes([0, 20]))
    + op("FAIL", 2 << 1)
    + op("BULK", 2, raw(b"x"), bytes([0, 50]))
    + op("FAIL", 1 << 1)
    + op("SEEK", 0, raw(b"x"))
    + step(0, 1, 8)
    + op("COPY", 0, bytes([1 | (5 << 1)]))
    + op("COPY", 0, bytes([0]))
    + op("FAIL", 1 | (1 << 1))
    + op("FUZZY", 1 | (1 << 2), raw(b"xy"))
    + op("FUZZY_NEXT", 7 << 1),
    # Long keys (leaves and prefixes too big for the slab), a move
    # between the trees and cursors that follow it.
    "long_keys_move": BYTES
    + op("LONG", 3 << 2, raw(b"p"), b"q", b"\xa0")
    + op("LONG", 1 << 2, raw(b"p"), b"q", b"\x90")
    + op("LONG", 0, raw(b"pq"), b"r", b"\x10")
    + op("SEEK", 2, existing(1))
    + step(0, 1, 3)
    + op("MOVE", 0)
    + step(0, 1, 1)
    + op("REBIND", 2)
    + op("ENDS", 0)
    + step(0, 0, 4)
    + op("PREFIX", 1, edited(0, 2, 0, b"s"), b"\x00")
    + op("LONG", 1 | 2, existing(1), b"q", b"\x00"),
    # Keys with 0x00 and 0xff, writes through a search slot, seeks in
    # all four modes, a step after the tree was cleared.
    "binary_seek": BYTES
    + op("INSERT", 0, raw(b"\x00"), b"\x01")
    + op("INSERT", 0, raw(b"\x00\x00"), b"\x02")
    + op("INSERT", 0, raw(b"\xff"), b"\x03")
    + op("INSERT", 0, raw(b"\xff\xff\x00"), b"\x04")
    + op("INSERT", 0, raw(b"\x7f\x80"), b"\x05")
    + op("SEARCH", 2, raw(b"\x00\x00"), b"\x09")
    + op("SEEK", 0 << 1, raw(b"\x00\x01"))
    + op("SEEK", 1 << 1, raw(b"\xff"))
    + op("SEEK", 2 << 1, raw(b"\xff\x00"))
    + op("SEEK", 3 << 1, raw(b"\x00"))
    + step(0, 1, 4)
    + op("SEARCH", 0, raw(b"\xff\xff"))
    + op("CLEAR", 0)
    + step(0, 1, 1),
}

REGRESSIONS = {
    # art_tree_copy into a tree whose keys were all deleted (empty, as
    # the header asks) leaks that tree's walk stack: the copy overwrites
    # dst->walk without freeing it.  Expected: no block left after both
    # trees are cleared; found: one (256 bytes, allocated by the split
    # in the second insert).
    "copy_into_emptied_tree_leaks_walk": BYTES
    + op("INSERT", 0, raw(b"a"), b"\x01")
    + op("INSERT", 0, raw(b"b"), b"\x02")
    + op("DELETE", 0, raw(b"a"))
    + op("DELETE", 0, raw(b"b"))
    + op("INSERT", 1, raw(b"x"), b"\x03")
    + op("INSERT", 1, raw(b"y"), b"\x04")
    + op("COPY", 1 | 2, b"\x00"),
}


def main():
    for folder, inputs in (("corpus", CORPUS), ("regressions", REGRESSIONS)):
        (HERE / folder).mkdir(exist_ok=True)
        for name, data in inputs.items():
            (HERE / folder / name).write_bytes(data)
            print(f"{folder}/{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
