"""Saving maps to files, loading them back and opening them frozen.

Covers ``TreeMap.save`` / ``BytesTreeMap.save``, ``TreeMap.load`` /
``BytesTreeMap.load`` and ``blart.FrozenTreeMap`` (docs/format.md):

* round trips of every native value kind (exact types kept, nan, -0.0,
  ints on both sides of the inline range), odd keys and pickled values,
  by hand and as hypothesis properties;
* ``allow_pickle`` on both sides: nothing is pickled unless asked, and no
  file is ever unpickled unless asked;
* the file laid out as docs/format.md says, re-read by an independent
  parser in this module (which the crafted cases also use to find the
  bytes they edit);
* FrozenTreeMap against the in-memory map it was saved from, query by
  query, errors included;
* hostile files: truncations, bit flips with and without a valid checksum,
  crafted headers, nodes and value records.  Each must raise
  ``blart.FormatError``; nothing may crash, hang or read out of bounds.
  The loops over many damaged files run in a forked child, so a crash or
  a hang fails the one test (naming the case) instead of the whole run;
* atomic saves, saves re-entered from a value's ``__reduce__``, frozen
  iterators that outlive their map, several processes sharing one file.
"""

import collections.abc as cabc
import dataclasses
import enum
import gc
import math
import multiprocessing
import os
import pickle
import random
import re
import struct
import traceback

import pytest

# The checksum of docs/format.md (a private helper of the extension).
from blart._blart import _checksum
from hypothesis import given
from hypothesis import strategies as st
from support import check_consistent

from blart import BytesTreeMap, FormatError, FrozenTreeMap, TreeMap

# ---------------------------------------------------------------------------
# The format, read independently (docs/format.md)
# ---------------------------------------------------------------------------

HEADER = struct.Struct("<8sIIQQQQQQ")
FIELDS = (
    "magic",
    "version",
    "flags",
    "count",
    "max_key_len",
    "root",
    "nodes_size",
    "values_size",
    "checksum",
)
FORMAT_VERSION = 3  # docs/format.md: version 2 is read too, version 1 refused
FLAG_STR = 1
FLAG_PICKLE = 2
NODE4, NODE16, NODE48, NODE256, BUCKET = range(5)
# Node4 and Node16 come in two sizes (room for 2 or 4, 8 or 16 children),
# given by the low bits of the header's second byte (the shape); Node48
# and Node256 have one (0).  Its top bit says a value slot ends the node.
SIZES = {NODE4: (2, 4), NODE16: (8, 16), NODE48: (0,), NODE256: (0,)}
SLOT = 0x80


def body_size(kind, cap):
    if kind in (NODE4, NODE16):
        return pad8(cap) + 8 * cap
    return 256 + 48 * 8 if kind == NODE48 else 256 * 8


REC_INT, REC_FLOAT, REC_STR, REC_BYTES, REC_PICKLE = range(1, 6)

P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
M64 = (1 << 64) - 1


def pad8(n):
    return (n + 7) & ~7


def u64(data, off):
    return struct.unpack_from("<Q", data, off)[0]


def put_u64(data, off, value):
    struct.pack_into("<Q", data, off, value & M64)


def read_header(data):
    return dict(zip(FIELDS, HEADER.unpack_from(data, 0)))


def write_header(data, **fields):
    """Overwrites header fields of a bytearray in place."""
    h = read_header(data)
    h.update(fields)
    HEADER.pack_into(data, 0, *(h[f] & M64 if f != "magic" else h[f] for f in FIELDS))


def fix_checksum(data):
    """Recomputes the checksum field with blart._checksum, in place."""
    put_u64(data, 56, _checksum(bytes(data[64:]) + bytes(data[:56])))
    return data


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def py_checksum(data):
    """The checksum exactly as docs/format.md describes it."""
    data = bytes(data)
    acc = [(P1 + P2) & M64, P2, 0, (-P1) & M64]
    padded = data + bytes(-len(data) % 32)
    for i in range(0, len(padded), 32):
        for j, word in enumerate(struct.unpack_from("<4Q", padded, i)):
            acc[j] = rotl((acc[j] + word * P2) & M64, 31) * P1 & M64
    h = (rotl(acc[0], 1) + rotl(acc[1], 7) + rotl(acc[2], 12) + rotl(acc[3], 18)) & M64
    h ^= len(data)
    h ^= h >> 33
    h = h * P2 & M64
    h ^= h >> 29
    h = h * P3 & M64
    h ^= h >> 32
    return h


@dataclasses.dataclass
class Obj:
    """One object of the nodes section, as the parser found it."""

    off: int
    size: int
    leaf: bool
    key: bytes  # a node: the key up to and including its prefix; a leaf: its key
    kind: int = -1
    cap: int = 0
    slot: bool = False
    n: int = 0
    plen: int = 0
    slen: int = 0
    body: int = 0
    children: list = dataclasses.field(default_factory=list)  # (byte, offset of the ref)

    @property
    def ref(self):
        return self.off + 1 if self.leaf else self.off

    @property
    def vref_at(self):
        if self.leaf:
            return self.off
        assert self.slot, "a node without a value slot"
        return self.off + self.size - 8


@dataclasses.dataclass
class Parsed:
    header: dict
    objs: list  # sorted by offset
    postorder: list  # offsets in post-order, children in key order
    items: list  # (key bytes, value reference, offset of the reference), sorted
    values_start: int


def parse_image(data):
    """Walks a well-formed file from its root (trusting it: for files
    made by save() only)."""
    h = read_header(data)
    objs, items, preorder = [], [], []
    stack = [(h["root"], b"")] if h["root"] else []
    while stack:
        ref, key = stack.pop()
        if ref & 1:
            off = ref - 1
            vref, slen = struct.unpack_from("<QI", data, off)
            key += bytes(data[off + 12 : off + 12 + slen])
            obj = Obj(off, pad8(12 + slen), True, key, slen=slen)
            items.append((key, vref, off))
        elif data[ref] == BUCKET:
            # A bucket: tags, 16-bit ends, value references, suffixes.
            off = ref
            _, flags, n, kbytes = struct.unpack_from("<BBHI", data, off)
            assert flags == 0 and n >= 1
            ends_at = off + 8 + pad8(n)
            values_at = ends_at + pad8(2 * n)
            keys_at = values_at + 8 * n
            size = keys_at + pad8(kbytes) - off
            obj = Obj(off, size, False, key, BUCKET, n=n)
            start = 0
            for i in range(n):
                (end,) = struct.unpack_from("<H", data, ends_at + 2 * i)
                suffix = bytes(data[keys_at + start : keys_at + end])
                items.append((key + suffix, u64(data, values_at + 8 * i), values_at + 8 * i))
                start = end
            assert start == kbytes
        else:
            off = ref
            kind, shape, n, plen = struct.unpack_from("<BBHI", data, off)
            cap, slot = shape & ~SLOT, bool(shape & SLOT)
            assert cap in SIZES[kind], (kind, cap)
            key += bytes(data[off + 8 : off + 8 + plen])
            body = off + 8 + pad8(plen)
            size = 8 + pad8(plen) + body_size(kind, cap) + (8 if slot else 0)
            vref = u64(data, off + size - 8) if slot else 0
            assert vref or not slot, "save() writes a slot only for a value"
            if kind in (NODE4, NODE16):
                refs_at = body + pad8(cap)
                children = [(data[body + i], refs_at + 8 * i) for i in range(n)]
            elif kind == NODE48:
                children = [
                    (b, body + 256 + 8 * (data[body + b] - 1)) for b in range(256) if data[body + b]
                ]
            else:
                children = [(b, body + 8 * b) for b in range(256) if u64(data, body + 8 * b)]
            obj = Obj(off, size, False, key, kind, cap, slot, n, plen, 0, body)
            obj.children = children
            if vref:
                items.append((key, vref, obj.vref_at))
            for b, at in children:
                stack.append((u64(data, at), key + bytes([b])))
        objs.append(obj)
        preorder.append(obj.off)
    objs.sort(key=lambda o: o.off)
    items.sort()
    return Parsed(h, objs, preorder[::-1], items, 64 + h["nodes_size"])


def decode_value(data, values_start, vref):
    """A value reference decoded as docs/format.md says."""
    tag = vref & 7
    if tag == 1:
        return (vref - (1 << 64) if vref >> 63 else vref) >> 3
    if tag == 2:
        return (None, False, True)[vref >> 3]
    assert tag == 0, vref
    off = values_start + vref
    word = u64(data, off)
    kind, length = word & 0xFF, word >> 8
    payload = bytes(data[off + 8 : off + 8 + length])
    assert len(payload) == length
    if kind == REC_INT:
        return int.from_bytes(payload, "little", signed=True)
    if kind == REC_FLOAT:
        assert length == 8
        return struct.unpack("<d", payload)[0]
    if kind == REC_STR:
        return payload.decode("utf-8", "surrogatepass")
    if kind == REC_BYTES:
        return payload
    assert kind == REC_PICKLE, kind
    return pickle.loads(payload)


def record_of(data, parsed, kind):
    """(offset of a reference to a record of this kind, record offset)."""
    for _, vref, at in parsed.items:
        if vref & 7 == 0 and u64(data, parsed.values_start + vref) & 0xFF == kind:
            return at, parsed.values_start + vref
    raise AssertionError(f"no record of kind {kind}")


# ---------------------------------------------------------------------------
# Values and comparisons
# ---------------------------------------------------------------------------


def same_value(a, b):
    """Equal and of the very same type; nan equals nan, -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def assert_same_items(got, expected):
    got, expected = list(got), list(expected)
    assert [k for k, _ in got] == [k for k, _ in expected]
    for (key, a), (key2, b) in zip(got, expected):
        assert type(key) is type(key2)
        assert same_value(a, b), (key, a, b)


# Every native kind, the edges of the inline int range (61 bits) and of
# the record encodings.
NATIVE_VALUES = {
    "none": None,
    "false": False,
    "true": True,
    "zero": 0,
    "one": 1,
    "minus_one": -1,
    "inline_max": 2**60 - 1,
    "past_inline_max": 2**60,
    "inline_min": -(2**60),
    "past_inline_min": -(2**60) - 1,
    "i64_max": 2**63 - 1,
    "i64_min": -(2**63),
    "u64_max": 2**64 - 1,
    "two_to_64": 2**64,
    "neg_two_to_70": -(2**70),
    "ten_to_400": 10**400,
    "minus_ten_to_400": -(10**400),
    "float": 1.5,
    "float_zero": 0.0,
    "float_neg_zero": -0.0,
    "nan": math.nan,
    "inf": math.inf,
    "neg_inf": -math.inf,
    "subnormal": 5e-324,
    "float_integral": 3.0,
    "str": "text",
    "str_empty": "",
    "str_nul": "a\x00b",
    "str_astral": "\U0001f600 日本",
    "str_lone_surrogate": "\ud800",
    "str_surrogates_inside": "x\udfffy\ud83d",
    "str_long": "é" * 5000,
    "bytes": b"raw",
    "bytes_empty": b"",
    "bytes_binary": bytes(range(256)),
}


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2


class Tag(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


class Blob(bytes):
    pass


# Values that are not exactly a native type: all need allow_pickle=True.
NON_NATIVE_VALUES = {
    "list": [1, [2, "x"]],
    "tuple": (1, 2),
    "one_tuple": ("x",),
    "empty_tuple": (),
    "dict": {"a": 1},
    "set": {1, 2},
    "dataclass": Point(1, 2),
    "int_enum": Color.GREEN,
    "str_subclass": Tag("tagged"),
    "int_subclass": Count(5),
    "float_subclass": Ratio(0.5),
    "bytes_subclass": Blob(b"b"),
    "bytearray": bytearray(b"ba"),
    "complex": 1 + 2j,
    "frozenset": frozenset({"q"}),
}

UNPICKLED = []


def _note_unpickled(tag):
    UNPICKLED.append(tag)
    return tag


class Tracer:
    """Pickles to a call that records that it was unpickled."""

    def __init__(self, tag):
        self.tag = tag

    def __reduce__(self):
        return (_note_unpickled, (self.tag,))


class SubTreeMap(TreeMap):
    pass


class SubBytesTreeMap(BytesTreeMap):
    pass


def saved(tmp_path, m, name="m.blart", **kw):
    path = tmp_path / name
    m.save(path, **kw)
    return path


def listing(directory):
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


def assert_round_trip(kind, path, m):
    """load() and FrozenTreeMap give back m's items, in order, types kept."""
    expected = list(m.items())
    loaded = kind.cls.load(path)
    assert type(loaded) is kind.cls
    check_consistent(loaded)
    assert_same_items(loaded.items(), expected)
    fm = FrozenTreeMap(path)
    assert fm.key_type is (bytes if kind.is_bytes else str)
    assert len(fm) == len(expected)
    assert_same_items(fm.items(), expected)
    assert list(reversed(fm)) == [k for k, _ in reversed(expected)]
    for key, value in expected:
        assert same_value(fm[key], value)
        assert same_value(loaded[key], value)
        assert key in fm
    return loaded, fm


def test_round_trip_native_values(kind, tmp_path):
    m = kind.new(NATIVE_VALUES)
    assert m.save(tmp_path / "m.blart") is None
    loaded, fm = assert_round_trip(kind, tmp_path / "m.blart", m)
    assert loaded[kind.k("true")] is True
    assert fm[kind.k("false")] is False
    assert fm[kind.k("none")] is None
    assert math.isnan(fm[kind.k("nan")])
    assert math.copysign(1.0, fm[kind.k("float_neg_zero")]) == -1.0
    assert math.copysign(1.0, loaded[kind.k("float_neg_zero")]) == -1.0
    assert listing(tmp_path) == ["m.blart"]


@pytest.mark.parametrize(
    "value",
    [2**60 - 1, 2**60, -(2**60), -(2**60) - 1, 2**63, -(2**63) - 1, 127, 128, -128, -129],
)
def test_round_trip_ints_at_encoding_edges(kind, tmp_path, value):
    m = kind.new({"k": value, "neg": -value})
    assert_round_trip(kind, saved(tmp_path, m), m)


def test_round_trip_empty_map(kind, tmp_path):
    path = saved(tmp_path, kind.cls())
    loaded, fm = assert_round_trip(kind, path, kind.cls())
    assert len(loaded) == 0 and len(fm) == 0
    assert fm.first() is None and fm.last() is None
    assert list(fm.prefix_iter(kind.k(""))) == []
    assert fm.get(kind.k("a")) is None
    assert read_header(path.read_bytes())["root"] == 0


def test_round_trip_single_key(kind, tmp_path):
    for text in ["", "a", "a" * 100]:
        m = kind.new({text: 1})
        assert_round_trip(kind, saved(tmp_path, m), m)


ODD_KEY_TEXTS = [
    "",
    "\x00",
    "\x00\x00",
    "a\x00b",
    "a\x00",
    "key",
    "key1",
    "key123",
    "k",
    "é",
    "è",
    "日本",
    "日本人",
    "\U0001f600",
    "\U0010ffff",
    "\uffff",
    "\ud800",
    "a\udfff",
    "\udbff\udfff",
    "p" * 300,
    "p" * 301,
    "p" * 300 + "\x00",
]


def test_round_trip_odd_keys(kind, tmp_path):
    """Empty key, NUL bytes, keys that are prefixes of others, non-ASCII,
    astral and lone-surrogate keys, long shared prefixes."""
    m = kind.new({t: i for i, t in enumerate(ODD_KEY_TEXTS)})
    assert_round_trip(kind, saved(tmp_path, m), m)


def test_round_trip_bytes_keys_that_are_not_utf8(tmp_path):
    keys = [b"\xff", b"\x80", b"\xc3", b"\xc3(", b"\xff\xff\xff", b"\xed\xa0\x80", b"\x00\xff"]
    m = BytesTreeMap({k: k for k in keys})
    path = saved(tmp_path, m)
    assert_same_items(BytesTreeMap.load(path).items(), m.items())
    assert_same_items(FrozenTreeMap(path).items(), m.items())


def test_round_trip_prefix_chain(kind, tmp_path):
    """Each key a prefix of the next: a path of 2000 nested nodes."""
    m = kind.new({"a" * i: i for i in range(2000)})
    assert_round_trip(kind, saved(tmp_path, m), m)


def test_round_trip_one_mebibyte_keys(kind, tmp_path):
    big = "k" * (1 << 20)
    m = kind.new({big: 1, big[:-1] + "x": 2, big[:-1]: 3, "k": 4, big + "\x00": 5})
    path = saved(tmp_path, m)
    _, fm = assert_round_trip(kind, path, m)
    assert read_header(path.read_bytes())["max_key_len"] == (1 << 20) + 1
    assert fm.longest_prefix(kind.k(big + "zz")) == (kind.k(big), 1)


def test_round_trip_node_kinds(kind, tmp_path, plain_nodes):
    """Nodes of every kind and size, and node values next to them."""
    m = kind.new(craft_texts())
    path = saved(tmp_path, m)
    assert_round_trip(kind, path, m)
    sizes_seen = {(o.kind, o.cap) for o in parse_image(path.read_bytes()).objs if not o.leaf}
    assert sizes_seen == {(k, cap) for k, caps in SIZES.items() for cap in caps}


def test_round_trip_pickled_values(kind, tmp_path):
    m = kind.new(NON_NATIVE_VALUES)
    m[kind.k("native")] = 10**30
    path = saved(tmp_path, m, allow_pickle=True)
    assert read_header(path.read_bytes())["flags"] & FLAG_PICKLE
    loaded = kind.cls.load(path, allow_pickle=True)
    fm = FrozenTreeMap(path, allow_pickle=True)
    for got in (loaded, fm):
        assert list(got.keys()) == list(m.keys())
        for key, value in m.items():
            assert got[key] == value
            assert type(got[key]) is type(value)
    assert fm[kind.k("int_enum")] is Color.GREEN


def test_shared_value_is_stored_once_per_key(kind, tmp_path):
    shared = [1, 2]
    m = kind.new({"a": shared, "b": shared})
    loaded = kind.cls.load(saved(tmp_path, m, allow_pickle=True), allow_pickle=True)
    assert loaded[kind.k("a")] == loaded[kind.k("b")] == shared
    assert loaded[kind.k("a")] is not loaded[kind.k("b")]


def test_loaded_map_is_an_ordinary_mutable_map(kind, tmp_path):
    m = kind.new({"a": 1, "b": 2})
    path = saved(tmp_path, m)
    first, second = kind.cls.load(path), kind.cls.load(path)
    first[kind.k("c")] = 3
    del first[kind.k("a")]
    check_consistent(first, kind.d({"b": 2, "c": 3}))
    assert second == m
    assert first.copy() == first


def test_load_from_a_subclass_makes_the_subclass(tmp_path):
    for base, sub, key in [(TreeMap, SubTreeMap, "a"), (BytesTreeMap, SubBytesTreeMap, b"a")]:
        path = saved(tmp_path, base({key: 1}), name=sub.__name__)
        loaded = sub.load(path)
        assert type(loaded) is sub
        assert loaded == {key: 1}
        assert type(base.load(path)) is base
        # A subclass instance saves like its base.
        path2 = saved(tmp_path, loaded, name=sub.__name__ + "2")
        assert base.load(path2) == {key: 1}


class PathLikeThing:
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return os.fspath(self.path)


def test_paths_may_be_str_bytes_or_pathlike(kind, tmp_path):
    m = kind.new({"a": 1})
    p = tmp_path / "m.blart"
    for spelled in (str(p), os.fsencode(p), p, PathLikeThing(p)):
        p.unlink(missing_ok=True)
        m.save(spelled)
        assert kind.cls.load(spelled) == m
        assert kind.cls.load(p) == m
        fm = FrozenTreeMap(spelled)
        assert fm == m
        assert os.fsdecode(fm.path) == str(p)


def test_bad_arguments(kind, tmp_path):
    m = kind.new({"a": 1})
    path = saved(tmp_path, m)
    for bad in (None, 1.5, ["m.blart"]):
        with pytest.raises(TypeError):
            m.save(bad)
        with pytest.raises(TypeError):
            kind.cls.load(bad)
        with pytest.raises(TypeError):
            FrozenTreeMap(bad)
    # allow_pickle is keyword-only.
    with pytest.raises(TypeError):
        m.save(path, True)
    with pytest.raises(TypeError):
        kind.cls.load(path, True)
    with pytest.raises(TypeError):
        FrozenTreeMap(path, True)
    with pytest.raises(TypeError):
        kind.cls.load()
    with pytest.raises(TypeError):
        FrozenTreeMap()


def test_missing_file_and_directory(kind, tmp_path):
    with pytest.raises(FileNotFoundError):
        kind.cls.load(tmp_path / "missing.blart")
    with pytest.raises(FileNotFoundError):
        FrozenTreeMap(tmp_path / "missing.blart")
    with pytest.raises(OSError):
        kind.cls.load(tmp_path)
    with pytest.raises(OSError):
        FrozenTreeMap(tmp_path)


def test_key_type_mismatch_is_refused(tmp_path):
    for m, wrong in [(TreeMap({"a": 1}), BytesTreeMap), (BytesTreeMap({b"a": 1}), TreeMap)]:
        for content in (m, type(m)()):
            path = saved(tmp_path, content, name=wrong.__name__)
            with pytest.raises(ValueError):
                wrong.load(path)
            assert type(m).load(path) == content
            assert FrozenTreeMap(path).key_type is (str if type(m) is TreeMap else bytes)


# Keys: any text (with NUL and lone surrogates mixed in) or any bytes.
TEXT_KEYS = st.text(
    st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "é", "\U0001f600"])),
    max_size=8,
)
BINARY_KEYS = st.binary(max_size=8)
NATIVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**60 - 1, 2**60, -(2**60), -(2**60) - 1, 10**400, -(2**70)]),
    st.floats(),
    st.text(st.one_of(st.characters(), st.just("\ud800")), max_size=10),
    st.binary(max_size=10),
)


@pytest.mark.parametrize(
    ("cls", "keys"), [(TreeMap, TEXT_KEYS), (BytesTreeMap, BINARY_KEYS)], ids=["str", "bytes"]
)
@given(data=st.data())
def test_round_trip_property(tmp_path, cls, keys, data):
    """For any dict of native values, save -> load and save -> Frozen give
    the dict's items in sorted key order, types kept."""
    model = data.draw(st.dictionaries(keys, NATIVES, max_size=40))
    path = tmp_path / "prop.blart"
    cls(model).save(path)
    expected = sorted(model.items(), key=lambda kv: kv[0])
    assert_same_items(cls.load(path).items(), expected)
    fm = FrozenTreeMap(path)
    assert_same_items(fm.items(), expected)
    assert len(fm) == len(model)
    for key, value in model.items():
        assert same_value(fm[key], value)


# ---------------------------------------------------------------------------
# The file layout of docs/format.md
# ---------------------------------------------------------------------------


def craft_texts():
    """Keys (ASCII text) that give nodes of every kind, a prefix, a value
    at an inner node and records of every native kind."""
    texts = {
        "common/prefix/": 7,
        "common/prefix/a": "text",
        "common/prefix/b": b"raw",
        "common/prefix/c": 2**70,
        "leaf-with-a-long-suffix": 1.25,
    }
    texts.update({"n16" + c: i for i, c in enumerate("abcdefgh")})
    texts.update({"w16" + c: i for i, c in enumerate("abcdefghijkl")})
    texts.update({"pair/x": 0, "pair/y": 1})
    texts.update({"n48" + chr(0x21 + i): (None, True, False, -i)[i % 4] for i in range(20)})
    texts.update({"n256" + chr(0x21 + i): i for i in range(60)})
    return texts


def test_checksum_is_the_documented_hash():
    rng = random.Random(5)
    for n in list(range(0, 80)) + [255, 256, 257, 1000]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert _checksum(data) == py_checksum(data), n
    assert _checksum(b"") == py_checksum(b"")
    assert _checksum(bytearray(b"abc")) == py_checksum(b"abc")


def test_file_layout_follows_the_format_doc(kind, tmp_path):
    m = kind.new({**craft_texts(), **NATIVE_VALUES})
    data = saved(tmp_path, m).read_bytes()
    h = read_header(data)
    assert h["magic"] == b"BLARTMAP"
    assert h["version"] == FORMAT_VERSION
    assert h["flags"] == (0 if kind.is_bytes else FLAG_STR)
    assert h["count"] == len(m)
    assert h["max_key_len"] == max(
        len(k) for k in kind.ks(list(craft_texts()) + list(NATIVE_VALUES))
    )
    assert len(data) == 64 + h["nodes_size"] + h["values_size"]
    assert h["nodes_size"] % 8 == 0 and h["values_size"] % 8 == 0
    assert h["checksum"] == _checksum(data[64:] + data[:56]) == py_checksum(data[64:] + data[:56])
    p = parse_image(data)
    # Post-order, children in key order, tiling the section with no gap;
    # the root is the last object.
    assert [o.off for o in p.objs] == p.postorder
    end = 64
    for o in p.objs:
        assert o.off == end
        end += o.size
    assert end == 64 + h["nodes_size"]
    assert p.objs[-1].ref == h["root"]
    assert data[p.values_start : p.values_start + 8] == b"VALUES\0\0"
    # The keys and values, decoded independently, are the map's.
    keys = [k for k, _, _ in p.items]
    if not kind.is_bytes:
        keys = [k.decode("utf-8", "surrogatepass") for k in keys]
    decoded = [(k, decode_value(data, p.values_start, v)) for k, (_, v, _) in zip(keys, p.items)]
    assert_same_items(decoded, m.items())
    # Inline ints and constants are not records; each record belongs to
    # exactly one key.
    records = [v for _, v, _ in p.items if v & 7 == 0]
    assert len(records) == len(set(records))
    for _, vref, _ in p.items:
        value = decode_value(data, p.values_start, vref)
        if value is None or type(value) is bool:
            assert vref & 7 == 2
        elif type(value) is int and -(2**60) <= value < 2**60:
            assert vref & 7 == 1
        else:
            assert vref & 7 == 0 and 8 <= vref < h["values_size"]


def test_pickle_flag_only_when_something_is_pickled(kind, tmp_path):
    natives = saved(tmp_path, kind.new({"a": 1, "b": "s"}), name="n", allow_pickle=True)
    assert read_header(natives.read_bytes())["flags"] & FLAG_PICKLE == 0
    assert kind.cls.load(natives) == kind.d({"a": 1, "b": "s"})
    assert FrozenTreeMap(natives) == kind.d({"a": 1, "b": "s"})
    pickled = saved(tmp_path, kind.new({"a": [1]}), name="p", allow_pickle=True)
    assert read_header(pickled.read_bytes())["flags"] & FLAG_PICKLE


# ---------------------------------------------------------------------------
# allow_pickle
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NON_NATIVE_VALUES))
def test_save_refuses_non_native_values_without_allow_pickle(kind, tmp_path, name):
    m = kind.new({"a": 1, "b": NON_NATIVE_VALUES[name], "c": 3})
    with pytest.raises(ValueError):
        m.save(tmp_path / "m.blart")
    with pytest.raises(ValueError):
        m.save(tmp_path / "m.blart", allow_pickle=False)
    assert listing(tmp_path) == []
    check_consistent(m)
    m.save(tmp_path / "m.blart", allow_pickle=True)
    assert listing(tmp_path) == ["m.blart"]
    loaded = kind.cls.load(tmp_path / "m.blart", allow_pickle=True)
    assert loaded[kind.k("b")] == NON_NATIVE_VALUES[name]
    assert type(loaded[kind.k("b")]) is type(NON_NATIVE_VALUES[name])


def test_pickled_file_is_refused_without_allow_pickle(kind, tmp_path):
    UNPICKLED.clear()
    m = kind.new({"a": 1, "t": Tracer("loaded")})
    path = saved(tmp_path, m, allow_pickle=True)
    with pytest.raises(ValueError):
        kind.cls.load(path)
    with pytest.raises(ValueError):
        kind.cls.load(path, allow_pickle=False)
    with pytest.raises(ValueError):
        FrozenTreeMap(path)
    with pytest.raises(ValueError):
        FrozenTreeMap(path, allow_pickle=False)
    assert UNPICKLED == []
    assert kind.cls.load(path, allow_pickle=True) == kind.d({"a": 1, "t": "loaded"})
    assert UNPICKLED == ["loaded"]
    fm = FrozenTreeMap(path, allow_pickle=True)
    assert fm[kind.k("a")] == 1
    assert fm[kind.k("t")] == "loaded"


def test_pickle_record_in_a_file_without_the_pickle_flag_is_never_unpickled(kind, tmp_path):
    """Clearing flag bit 1 (and fixing the checksum) must not smuggle a
    pickle past allow_pickle=False."""
    UNPICKLED.clear()
    m = kind.new({"a": 1, "t": Tracer("smuggled")})
    data = bytearray(saved(tmp_path, m, allow_pickle=True).read_bytes())
    write_header(data, flags=read_header(data)["flags"] & ~FLAG_PICKLE)
    path = tmp_path / "smuggled.blart"
    path.write_bytes(fix_checksum(data))
    with pytest.raises(ValueError):
        kind.cls.load(path)
    with pytest.raises(ValueError):
        fm = FrozenTreeMap(path)
        read_everything(fm)
    assert UNPICKLED == []


def test_save_propagates_pickling_errors_and_leaves_nothing(kind, tmp_path):
    unpicklable = lambda: None  # noqa: E731
    try:
        pickle.dumps(unpicklable, protocol=5)
    except Exception as e:
        expected = type(e)
    m = kind.new({"a": 1, "f": unpicklable})
    target = tmp_path / "m.blart"
    target.write_bytes(b"old")
    with pytest.raises(expected):
        m.save(target, allow_pickle=True)
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["m.blart"]


class Boom(Exception):
    pass


class RaisingReduce:
    def __reduce__(self):
        raise Boom


def test_save_propagates_reduce_errors_unchanged(kind, tmp_path):
    m = kind.new({"a": 1, "b": RaisingReduce()})
    with pytest.raises(Boom):
        m.save(tmp_path / "m.blart", allow_pickle=True)
    assert listing(tmp_path) == []
    check_consistent(m)


# ---------------------------------------------------------------------------
# FrozenTreeMap as a Mapping
# ---------------------------------------------------------------------------


def test_frozen_is_a_read_only_mapping(kind, tmp_path):
    m = kind.new({"a": 1, "b": 2, "c": [3]})
    path = saved(tmp_path, m, allow_pickle=True)
    before = path.read_bytes()
    fm = FrozenTreeMap(path, allow_pickle=True)
    assert isinstance(fm, cabc.Mapping)
    assert not isinstance(fm, cabc.MutableMapping)
    assert isinstance(fm.keys(), cabc.KeysView)
    assert isinstance(fm.values(), cabc.ValuesView)
    assert isinstance(fm.items(), cabc.ItemsView)
    assert isinstance(repr(fm), str)
    k = kind.k
    with pytest.raises(TypeError):
        fm[k("a")] = 10
    with pytest.raises(TypeError):
        fm[k("new")] = 10
    with pytest.raises(TypeError):
        del fm[k("a")]
    with pytest.raises(TypeError):
        del fm[k("missing")]
    attempts = [
        ("pop", (k("a"),)),
        ("popitem", ()),
        ("clear", ()),
        ("update", ({k("z"): 1},)),
        ("setdefault", (k("z"), 1)),
        ("pop_first", ()),
        ("pop_last", ()),
        ("insert", (k("z"), 1)),
        ("remove", (k("a"),)),
    ]
    for name, args in attempts:
        with pytest.raises((AttributeError, TypeError)):
            getattr(fm, name)(*args)
    alias = fm
    try:
        alias |= {k("z"): 1}
    except TypeError:
        pass
    assert fm == m
    assert list(fm.items()) == list(m.items())
    assert path.read_bytes() == before


def test_frozen_equality(kind, tmp_path):
    m = kind.new({"a": 1, "b": "x", "c": 2.5})
    fm = FrozenTreeMap(saved(tmp_path, m))
    assert fm == m and m == fm
    assert fm == dict(m) and dict(m) == fm
    assert not (fm != m)
    assert fm == FrozenTreeMap(saved(tmp_path, m.copy(), name="again"))
    assert fm != kind.d({"a": 1})
    assert fm != kind.d({"a": 1, "b": "x", "c": 2.5, "d": 0})
    assert fm != kind.d({"a": 1, "b": "y", "c": 2.5})
    assert fm != {kind.foreign_key: 1}
    assert fm != [("a", 1)]
    assert FrozenTreeMap(saved(tmp_path, kind.cls(), name="empty")) == {}
    # A FrozenTreeMap is a Mapping the mutable maps take in.
    assert kind.cls(fm) == m
    copied = kind.cls()
    copied.update(fm)
    assert list(copied.items()) == list(m.items())
    assert dict(fm) == dict(m)


def test_frozen_pickles_by_reopening_its_path(kind, tmp_path):
    m = kind.new({"a": 1, "b": 2})
    path = saved(tmp_path, m)
    fm = FrozenTreeMap(path)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(fm, protocol))
        assert type(again) is FrozenTreeMap
        assert again == fm
        assert os.fsdecode(again.path) == os.fsdecode(fm.path)
        assert again.key_type is fm.key_type
    pickled = saved(tmp_path, kind.new({"a": [1]}), name="p", allow_pickle=True)
    fp = FrozenTreeMap(pickled, allow_pickle=True)
    assert pickle.loads(pickle.dumps(fp)) == {kind.k("a"): [1]}


def test_frozen_reads_the_file_it_opened(kind, tmp_path):
    """A save over the path (atomic replace) or a removal of the path does
    not change what an open FrozenTreeMap reads."""
    path = saved(tmp_path, kind.new({"a": 1, "b": 2}))
    fm = FrozenTreeMap(path)
    it = iter(fm.items())
    assert next(it) == (kind.k("a"), 1)
    kind.new({"z": 26}).save(path)
    assert fm == kind.d({"a": 1, "b": 2})
    assert FrozenTreeMap(path) == kind.d({"z": 26})
    path.unlink()
    assert list(it) == [(kind.k("b"), 2)]
    assert fm[kind.k("b")] == 2


def test_frozen_iterators_and_views_outlive_the_map(kind, tmp_path):
    texts = ["a", "ab", "abc", "b", "ba", "c"]
    m = kind.new({t: i for i, t in enumerate(texts)})
    fm = FrozenTreeMap(saved(tmp_path, m))
    keys = list(m)
    it = iter(fm)
    assert next(it) == keys[0]
    rev = reversed(fm)
    items = fm.items()
    values = fm.values()
    pre = fm.prefix_iter(kind.k("a"), reverse=True)
    rng = fm.range(kind.k("ab"), None)
    fuzzy = fm.fuzzy_search(kind.k("b"), 1)
    prefixes = fm.prefixes(kind.k("abcd"))
    del fm
    gc.collect()
    assert list(it) == keys[1:]
    assert list(rev) == keys[::-1]
    assert list(items) == list(m.items())
    assert list(values) == list(m.values())
    assert list(pre) == list(m.prefix_iter(kind.k("a"), reverse=True))
    assert list(rng) == list(m.range(kind.k("ab"), None))
    assert list(fuzzy) == list(m.fuzzy_search(kind.k("b"), 1))
    assert list(prefixes) == list(m.prefixes(kind.k("abcd")))


# ---------------------------------------------------------------------------
# FrozenTreeMap against the in-memory map, query by query
# ---------------------------------------------------------------------------

PIECES = ["a", "b", "ab", "\x00", "é", "日", "\U0001f600", "zz", "\x7f"]


def query_map_texts():
    rng = random.Random(20240611)
    texts = set()
    while len(texts) < 300:
        texts.add("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 5))))
    texts |= {"wide" + chr(0x21 + i) for i in range(70)}  # a Node256
    texts |= {"mid" + chr(0x21 + i) for i in range(20)}  # a Node48
    texts |= {"sixteen" + c for c in "abcdefghij"}  # a Node16
    texts |= {"\ud800", "a\udfff", "\udfff\ud800"}
    return sorted(texts)


def outcome(fn):
    """What a call gives: ("ok", result with iterators listed) or ("err", type)."""
    try:
        result = fn()
        if isinstance(result, cabc.Iterator):
            result = list(result)
        return ("ok", result)
    except Exception as e:
        return ("err", type(e))


def differential_probes(kind, texts, rng):
    stored = [kind.k(t) for t in rng.sample(texts, 40)]
    probes = stored[:]
    probes += [s[: len(s) // 2] for s in stored[:15]]
    probes += [s + kind.k(p) for s, p in zip(stored[:15], PIECES * 2)]
    probes += [
        kind.k(t) for t in ["", "q", "zzzzzz", "\U0010ffff\U0010ffff", "mid", "wide~", "a\x00"]
    ]
    probes += [
        kind.k("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))) for _ in range(20)
    ]
    if kind.is_bytes:
        probes += [bytearray(b"ab"), memoryview(b"wide!"), b"\xff", b"\xc3", Blob(b"ab")]
    else:
        probes += [Tag("ab"), Tag("")]
    probes += [kind.foreign_key, None, 5]
    return probes


def differential_queries(kind, probes, rng):
    """(label, function of a map) for every read of the map."""
    qs = [
        ("iter", lambda mp: list(mp)),
        ("reversed", lambda mp: list(reversed(mp))),
        ("len", len),
        ("bool", bool),
        ("keys", lambda mp: list(mp.keys())),
        ("values", lambda mp: list(mp.values())),
        ("items", lambda mp: list(mp.items())),
        ("reversed keys", lambda mp: list(reversed(mp.keys()))),
        ("reversed values", lambda mp: list(reversed(mp.values()))),
        ("reversed items", lambda mp: list(reversed(mp.items()))),
        ("len views", lambda mp: (len(mp.keys()), len(mp.values()), len(mp.items()))),
        ("first", lambda mp: mp.first()),
        ("last", lambda mp: mp.last()),
        ("range()", lambda mp: mp.range()),
        ("range(reverse)", lambda mp: mp.range(reverse=True)),
        ("range bad inclusive", lambda mp: mp.range(None, None, inclusive=(True,))),
        ("range bad reverse", lambda mp: mp.range(reverse=None)),
        ("range positional inclusive", lambda mp: mp.range(None, None, (True, True))),
        ("prefix_iter positional reverse", lambda mp: mp.prefix_iter(kind.k("a"), True)),
        ("prefix_iter bad reverse", lambda mp: mp.prefix_iter(kind.k("a"), reverse="yes")),
        ("fuzzy negative", lambda mp: mp.fuzzy_search(kind.k("a"), -1)),
        ("fuzzy str distance", lambda mp: mp.fuzzy_search(kind.k("a"), "1")),
        ("fuzzy keywords", lambda mp: mp.fuzzy_search(key=kind.k("ab"), max_distance=1)),
    ]
    sample = set(range(0, len(probes), 3))
    for i, q in enumerate(probes):
        qs += [
            (f"get {q!r}", lambda mp, q=q: mp.get(q)),
            (f"get default {q!r}", lambda mp, q=q: mp.get(q, "dflt")),
            (f"getitem {q!r}", lambda mp, q=q: mp[q]),
            (f"in {q!r}", lambda mp, q=q: q in mp),
            (f"in keys {q!r}", lambda mp, q=q: q in mp.keys()),
            (f"floor {q!r}", lambda mp, q=q: mp.floor(q)),
            (f"ceiling {q!r}", lambda mp, q=q: mp.ceiling(q)),
            (f"lower {q!r}", lambda mp, q=q: mp.lower(q)),
            (f"higher {q!r}", lambda mp, q=q: mp.higher(q)),
            (f"get_prefix {q!r}", lambda mp, q=q: mp.get_prefix(q)),
            (f"longest_prefix {q!r}", lambda mp, q=q: mp.longest_prefix(q)),
            (f"prefixes {q!r}", lambda mp, q=q: mp.prefixes(q)),
            (f"prefix_iter {q!r}", lambda mp, q=q: mp.prefix_iter(q)),
            (f"prefix_iter rev {q!r}", lambda mp, q=q: mp.prefix_iter(q, reverse=True)),
            (f"range from {q!r}", lambda mp, q=q: mp.range(q)),
            (f"range to {q!r}", lambda mp, q=q: mp.range(stop=q, reverse=True)),
        ]
        if i in sample:
            for d in range(3):
                qs.append((f"fuzzy {q!r} {d}", lambda mp, q=q, d=d: mp.fuzzy_search(q, d)))
    bounds = [None] + [q for q in probes if not isinstance(q, (int, type(None)))][:60:6]
    for start in bounds:
        for stop in bounds:
            for inclusive in [(True, False), (True, True), (False, False), (False, True)]:
                for reverse in (False, True):
                    label = f"range {start!r} {stop!r} {inclusive} {reverse}"
                    qs.append(
                        (
                            label,
                            lambda mp, a=start, b=stop, inc=inclusive, r=reverse: mp.range(
                                a, b, inclusive=inc, reverse=r
                            ),
                        )
                    )
    return qs


@pytest.mark.parametrize("buckets", [True, False], ids=["buckets", "plain"])
def test_frozen_queries_match_the_in_memory_map(kind, tmp_path, buckets, request):
    if not buckets:
        request.getfixturevalue("plain_nodes")
    texts = query_map_texts()
    m = kind.cls({kind.k(t): i for i, t in enumerate(texts)})
    path = saved(tmp_path, m)
    fm = FrozenTreeMap(path)
    kinds_seen = {o.kind for o in parse_image(path.read_bytes()).objs if not o.leaf}
    if buckets:
        assert BUCKET in kinds_seen and NODE256 in kinds_seen, kinds_seen
    else:
        assert kinds_seen == {NODE4, NODE16, NODE48, NODE256}
    rng = random.Random(7)
    probes = differential_probes(kind, texts, rng)
    mismatches = []
    for label, fn in differential_queries(kind, probes, rng):
        want, got = outcome(lambda: fn(m)), outcome(lambda: fn(fm))
        if want != got:
            mismatches.append((label, want, got))
    assert mismatches == []


def test_frozen_views_match_the_in_memory_map(kind, tmp_path):
    texts = query_map_texts()
    m = kind.cls({kind.k(t): i for i, t in enumerate(texts)})
    fm = FrozenTreeMap(saved(tmp_path, m))
    rng = random.Random(3)
    some_keys = set(rng.sample(list(m), 50)) | {kind.k("absent"), kind.k("")}
    some_items = {(k, m.get(k, -1)) for k in some_keys} | {(kind.k("a"), -5)}
    for name in ("keys", "items"):
        mine, theirs = getattr(m, name)(), getattr(fm, name)()
        other = some_keys if name == "keys" else some_items
        assert theirs & other == mine & other
        assert theirs | other == mine | other
        assert theirs - other == mine - other
        assert theirs ^ other == mine ^ other
        assert other - theirs == other - mine
        assert other & theirs == other & mine
        assert theirs.isdisjoint(other) == mine.isdisjoint(other)
        assert theirs.isdisjoint({kind.k("absent")})
        assert set(theirs) == set(mine)
        assert theirs == set(mine)
        assert (theirs <= set(mine)) and (theirs >= set(mine))
        assert not (theirs < set(mine))
        for probe in other:
            assert (probe in theirs) == (probe in mine)
    assert list(fm.values()) == list(m.values())
    assert (5 in fm.values()) and (-5 not in fm.values())


# ---------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------


def run_guarded(tmp_path, target, timeout=120):
    """Runs target() in a forked child, so that a crash or a hang in the C
    reader fails this test (naming the case being tried, whose file is
    left in tmp_path) instead of killing or stalling the whole run."""
    case_file = tmp_path / "case.txt"
    if "fork" not in multiprocessing.get_all_start_methods():
        target(case_file)
        return
    report = tmp_path / "report.txt"

    def child():
        try:
            target(case_file)
        except BaseException:
            report.write_text(traceback.format_exc())
            os._exit(1)
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        case = case_file.read_text() if case_file.exists() else "?"
        pytest.fail(f"hung for {timeout} s on case: {case}")
    case = case_file.read_text() if case_file.exists() else "?"
    if proc.exitcode < 0:
        pytest.fail(f"crashed (signal {-proc.exitcode}) on case: {case}")
    if proc.exitcode != 0:
        pytest.fail(f"failed on case: {case}\n{report.read_text() if report.exists() else ''}")


def note(case_file, text):
    rewrite(case_file, text.encode())


def rewrite(path, data):
    """Puts data in the file at path, overwriting it in place: the loops
    below write thousands of files, and truncating a file to zero before
    rewriting it makes some file systems (ext4) flush it to disk."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def read_everything(fm, probes=()):
    """Every whole-map read of a FrozenTreeMap, then the probes' queries."""
    list(fm)
    list(reversed(fm))
    list(fm.items())
    list(reversed(fm.items()))
    list(fm.values())
    fm.first()
    fm.last()
    for q in probes:
        fm.get(q)


WHOLE_READS = [
    len,
    list,
    lambda fm: list(reversed(fm)),
    lambda fm: list(fm.items()),
    lambda fm: list(reversed(fm.values())),
    lambda fm: fm.first(),
    lambda fm: fm.last(),
    lambda fm: list(fm.range(reverse=True)),
]
PROBE_READS = [
    lambda fm, q: fm.get(q),
    lambda fm, q: q in fm,
    lambda fm, q: fm.floor(q),
    lambda fm, q: fm.ceiling(q),
    lambda fm, q: fm.lower(q),
    lambda fm, q: fm.higher(q),
    lambda fm, q: fm.get_prefix(q),
    lambda fm, q: fm.longest_prefix(q),
    lambda fm, q: list(fm.prefixes(q)),
    lambda fm, q: list(fm.prefix_iter(q)),
    lambda fm, q: list(fm.prefix_iter(q, reverse=True)),
    lambda fm, q: list(fm.range(q, None)),
    lambda fm, q: list(fm.range(None, q, inclusive=(False, True), reverse=True)),
    lambda fm, q: list(fm.fuzzy_search(q, 1)),
]


def exercise_damaged(path, cls, probes):
    """A damaged file either fails with FormatError or works, at every
    step: load, open, and each read of the opened map."""
    try:
        loaded = cls.load(path)
    except FormatError:
        pass
    else:
        loaded._validate()
        list(loaded.items())
    try:
        fm = FrozenTreeMap(path)
    except FormatError:
        return
    for read in WHOLE_READS:
        try:
            read(fm)
        except FormatError:
            pass
    for q in probes:
        for read in PROBE_READS:
            try:
                read(fm, q)
            except FormatError:
                pass


def refusal_problems(path, cls, **kw):
    """What is wrong with how load and FrozenTreeMap refuse the file at
    path (both must raise FormatError): [] when nothing."""
    problems = []
    for name, opener in ((f"{cls.__name__}.load", cls.load), ("FrozenTreeMap", FrozenTreeMap)):
        try:
            opener(path, **kw)
        except FormatError as e:
            if str(path) not in str(e):
                problems.append(f"{name}: the error does not name the file: {e}")
            continue
        except Exception as e:
            problems.append(f"{name}: {type(e).__name__}: {e}")
        else:
            problems.append(f"{name}: accepted the file")
    return problems


def assert_refused(path, cls, **kw):
    assert refusal_problems(path, cls, **kw) == []


SMALL_TEXTS = {"a": 1, "ab": "x", "b": 2.5, "ba": 2**70}


def test_format_error_is_a_value_error():
    assert issubclass(FormatError, ValueError)


def test_empty_file_is_refused(kind, tmp_path):
    path = tmp_path / "empty.blart"
    path.write_bytes(b"")
    assert_refused(path, kind.cls)


def test_every_truncation_is_refused(kind, tmp_path):
    small = saved(tmp_path, kind.new(SMALL_TEXTS), name="small").read_bytes()
    large = saved(tmp_path, kind.new(craft_texts()), name="large").read_bytes()
    rng = random.Random(11)
    cuts = [(small, n) for n in range(len(small))]
    cuts += [(large, n) for n in [0, 8, 56, 63, 64, 65, len(large) - 8, len(large) - 1]]
    cuts += [(large, n) for n in rng.sample(range(len(large)), 1000)]
    path = tmp_path / "cut.blart"

    def target(case_file):
        for data, n in cuts:
            note(case_file, f"{kind} file of {len(data)} bytes cut to {n}")
            rewrite(path, data[:n])
            assert_refused(path, kind.cls)

    run_guarded(tmp_path, target)


def test_trailing_bytes_are_refused(kind, tmp_path):
    data = saved(tmp_path, kind.new(SMALL_TEXTS)).read_bytes()
    path = tmp_path / "long.blart"
    for extra in (b"\0", b"\0" * 8, b"x" * 64):
        path.write_bytes(fix_checksum(bytearray(data + extra)))
        assert_refused(path, kind.cls)


def test_bit_flips_without_checksum_fix_are_refused(kind, tmp_path):
    """Any one flipped bit, anywhere, is caught (at the latest) by the
    checksum: always FormatError."""
    small = saved(tmp_path, kind.new(SMALL_TEXTS), name="small").read_bytes()
    large = saved(tmp_path, kind.new(craft_texts()), name="large").read_bytes()
    rng = random.Random(13)
    flips = [(small, bit) for bit in range(len(small) * 8)]
    flips += [(large, bit) for bit in rng.sample(range(len(large) * 8), 2000)]
    path = tmp_path / "flip.blart"

    def target(case_file):
        for data, bit in flips:
            note(case_file, f"{kind} file of {len(data)} bytes, bit {bit} flipped")
            damaged = bytearray(data)
            damaged[bit // 8] ^= 1 << (bit % 8)
            rewrite(path, damaged)
            assert_refused(path, kind.cls)

    run_guarded(tmp_path, target)


def test_bit_flips_with_valid_checksum_never_crash(kind, tmp_path):
    """With the checksum recomputed, a flipped bit in the nodes or values
    section must be caught by the structural checks or be harmless:
    FormatError or success at open and at every read, nothing else."""
    small = saved(tmp_path, kind.new(SMALL_TEXTS), name="small").read_bytes()
    large = saved(tmp_path, kind.new(craft_texts()), name="large").read_bytes()
    rng = random.Random(17)
    flips = [(small, bit) for bit in range(64 * 8, len(small) * 8)]
    flips += [(large, bit) for bit in rng.sample(range(64 * 8, len(large) * 8), 4000)]
    probes = [kind.k(t) for t in ["", "a", "ab", "b", "common/prefix/b", "n48$", "n256!", "zz"]]
    path = tmp_path / "flip.blart"

    def target(case_file):
        for data, bit in flips:
            note(case_file, f"{kind} file of {len(data)} bytes, bit {bit} flipped, checksum fixed")
            damaged = bytearray(data)
            damaged[bit // 8] ^= 1 << (bit % 8)
            rewrite(path, fix_checksum(damaged))
            exercise_damaged(path, kind.cls, probes)

    run_guarded(tmp_path, target)


# What the readers say when they refuse a file on its header alone
# (art_file_read_header and the checksum), before looking at the nodes.
HEADER_REFUSALS = (
    "shorter than its header",
    "bad magic",
    "unsupported format version",
    "section sizes",
    "longest key too long",
    "more keys than the nodes section can hold",
    "checksum mismatch",
)


def gets_past_header(path):
    """Whether FrozenTreeMap reads beyond the header of the file at path:
    it opens the file, or refuses it for what follows the header."""
    try:
        FrozenTreeMap(path)
    except FormatError as e:
        return not any(reason in str(e) for reason in HEADER_REFUSALS)
    return True


def test_random_garbage_with_valid_header_never_crashes(kind, tmp_path):
    """A valid header over random sections (sizes consistent, checksum
    right): FormatError or a working map, nothing else.  The header is of
    the current version, so most cases reach the nodes check (the others
    claim more keys than their tiny nodes section can hold)."""
    rng = random.Random(19)
    probes = [kind.k(t) for t in ["", "a", "b"]]
    path = tmp_path / "garbage.blart"
    cases = 1000

    def target(case_file):
        past = 0
        for i in range(cases):
            nodes = rng.choice([8, 16, 40, 56, 64, 128, 512])
            values = rng.choice([8, 16, 24, 64])
            body = bytearray(rng.randbytes(nodes + values))
            body[nodes : nodes + 8] = b"VALUES\0\0"
            data = bytearray(64) + body
            root = rng.choice([64, 65, 64 + nodes - 8, 64 + nodes - 7, 64 + rng.randrange(nodes)])
            write_header(
                data,
                magic=b"BLARTMAP",
                version=FORMAT_VERSION,
                flags=0 if kind.is_bytes else FLAG_STR,
                count=rng.randrange(4),
                max_key_len=rng.randrange(16),
                root=root,
                nodes_size=nodes,
                values_size=values,
            )
            note(case_file, f"{kind} garbage case {i}")
            rewrite(path, fix_checksum(data))
            exercise_damaged(path, kind.cls, probes)
            past += gets_past_header(path)
        note(case_file, f"{kind}: all {cases} cases run")
        # A key takes at least 8 bytes: 1 - (1/2 + 1/4) / 7, about 89%,
        # have a header that passes.
        assert past >= cases * 2 // 3, f"only {past} of {cases} cases got past the header"

    run_guarded(tmp_path, target)


def test_frozen_docstring_warns_against_rewriting_in_place():
    """Issue #21: a FrozenTreeMap reads its file's pages as they are, so a
    file truncated or rewritten in place under it can kill the process
    (bench/README.md says why reads do not check every node again); its
    docstring says so, and how to replace the file instead."""
    doc = " ".join(FrozenTreeMap.__doc__.split())
    assert "Never truncate or rewrite in place a file a FrozenTreeMap has open" in doc
    assert "replace it with save() or a rename" in doc
    assert "SIGBUS" in doc and "SIGSEGV" in doc


@pytest.mark.parametrize(
    "edit",
    [
        {"magic": b"BLARTMAQ"},
        {"magic": b"\0" * 8},
        {"magic": b"blartmap"},
        {"version": 0},
        {"version": 1},
        {"version": 4},
        {"version": 0xFFFFFFFF},
    ],
    ids=[
        "magic-one-bit",
        "magic-zero",
        "magic-case",
        "version-0",
        "version-1",
        "version-4",
        "version-max",
    ],
)
def test_wrong_magic_or_version_is_refused(kind, tmp_path, edit):
    data = bytearray(saved(tmp_path, kind.new(SMALL_TEXTS)).read_bytes())
    write_header(data, **edit)
    path = tmp_path / "bad.blart"
    path.write_bytes(fix_checksum(data))
    assert_refused(path, kind.cls)


@pytest.mark.parametrize("bit", [2, 3, 7, 8, 16, 31])
def test_unknown_flag_bits_are_refused(kind, tmp_path, bit):
    data = bytearray(saved(tmp_path, kind.new(SMALL_TEXTS)).read_bytes())
    write_header(data, flags=read_header(data)["flags"] | (1 << bit))
    path = tmp_path / "bad.blart"
    path.write_bytes(fix_checksum(data))
    assert_refused(path, kind.cls)
    with pytest.raises(FormatError):
        kind.cls.load(path, allow_pickle=True)
    with pytest.raises(FormatError):
        FrozenTreeMap(path, allow_pickle=True)


def test_treemap_file_with_invalid_utf8_keys(tmp_path):
    """A file flagged as str keys whose key bytes are not UTF-8: load
    refuses it; a FrozenTreeMap refuses at open or when it makes the key."""
    for bad in [b"b\xff", b"b\xc3", b"b\xc0\x80", b"b\xf4\x90\x80\x80"]:
        data = bytearray(saved(tmp_path, BytesTreeMap({b"a": 1, bad: 2, b"c": 3})).read_bytes())
        write_header(data, flags=FLAG_STR)
        path = tmp_path / "bad.blart"
        path.write_bytes(fix_checksum(data))
        with pytest.raises(FormatError, match=re.escape(str(path))):
            TreeMap.load(path)
        with pytest.raises(ValueError):
            BytesTreeMap.load(path)
        try:
            fm = FrozenTreeMap(path)
        except FormatError:
            continue
        assert fm.key_type is str
        assert fm["a"] == 1
        assert fm.get("c") == 3
        with pytest.raises(FormatError, match=re.escape(str(path))):
            list(fm)
        with pytest.raises(FormatError):
            list(fm.items())
        with pytest.raises(FormatError):
            list(reversed(fm))
        with pytest.raises(FormatError):
            fm.higher("a")
        with pytest.raises(FormatError):
            list(fm.prefix_iter("b"))


# Crafted files.  Each edit takes the saved file (a bytearray) and its
# parse, and damages one thing; the checksum is then recomputed.  "open":
# docs/format.md has the reader check it at open; "access": the reader
# may check it at open or when the value is read.


def first_node(p, kind=None, with_prefix=False, min_children=0):
    for o in p.objs:
        if o.leaf or (kind is not None and o.kind != kind):
            continue
        if with_prefix and o.plen == 0:
            continue
        if o.n >= min_children:
            return o
    raise AssertionError("no such node")


def first_leaf(p, with_suffix=True):
    return next(o for o in p.objs if o.leaf and (o.slen > 0 or not with_suffix))


def unused_node48_byte(data, node):
    return next(b for b in range(256) if data[node.body + b] == 0)


def edit_root(value):
    def edit(data, p):
        write_header(data, root=value(data, p))

    return edit


def edit_header(**deltas):
    def edit(data, p):
        h = read_header(data)
        write_header(data, **{k: h[k] + d for k, d in deltas.items()})

    return edit


def wrap_sizes(data, p):
    # 64 + nodes + values == file length only modulo 2**64.
    n = 1 << 63
    write_header(data, nodes_size=n, values_size=(len(data) - 64 - n) & M64)


def values_into_nodes(data, p):
    h = read_header(data)
    write_header(data, nodes_size=h["nodes_size"] + h["values_size"], values_size=0)


def values_magic(data, p):
    data[p.values_start] ^= 0x20


def prefix_len(value):
    def edit(data, p):
        node = first_node(p, with_prefix=True)
        struct.pack_into("<I", data, node.off + 4, value(node.plen))

    return edit


def suffix_len(value):
    def edit(data, p):
        leaf = first_leaf(p)
        struct.pack_into("<I", data, leaf.off + 8, value(leaf.slen, leaf, p))

    return edit


def node48_index(choose):
    def edit(data, p):
        node = first_node(p, NODE48)
        b, slot = choose(data, node)
        data[node.body + b] = slot

    return edit


def node4_keys_swapped(data, p):
    node = first_node(p, NODE4, min_children=2)
    k0, k1 = data[node.body], data[node.body + 1]
    data[node.body], data[node.body + 1] = k1, k0


def node4_key_repeated(data, p):
    node = first_node(p, NODE4, min_children=2)
    data[node.body + 1] = data[node.body]


def node_count(kind, value):
    def edit(data, p):
        node = first_node(p, kind, min_children=2)
        struct.pack_into("<H", data, node.off + 2, value(node.n))

    return edit


def node_kind(value):
    def edit(data, p):
        data[first_node(p).off] = value

    return edit


def node_shape(pick, change):
    def edit(data, p):
        node = next(o for o in p.objs if not o.leaf and pick(o))
        data[node.off + 1] = change(data[node.off + 1])

    return edit


def slot_emptied(data, p):
    put_u64(data, next(o for o in p.objs if not o.leaf and o.slot).vref_at, 0)


def node_cap(kind, value):
    def edit(data, p):
        data[first_node(p, kind).off + 1] = value(first_node(p, kind).cap)

    return edit


def child_ref(change):
    def edit(data, p):
        node = first_node(p, NODE4, min_children=2)
        (_, at0), (_, at1) = node.children[:2]
        change(data, node, at0, at1)

    return edit


def child_to_self(data, node, at0, at1):
    put_u64(data, at0, node.ref)


def child_shared(data, node, at0, at1):
    put_u64(data, at1, u64(data, at0))


def child_retagged(data, node, at0, at1):
    ref = u64(data, at0)
    put_u64(data, at0, ref - 1 if ref & 1 else ref + 1)


def child_zeroed(data, node, at0, at1):
    put_u64(data, at0, 0)


def value_ref(new, where="leaf"):
    def edit(data, p):
        if where == "leaf":
            at = first_leaf(p, with_suffix=False).vref_at
        elif where == "node":
            at = next(o for o in p.objs if not o.leaf and o.slot).vref_at
        else:
            at = record_of(data, p, where)[0]
        put_u64(data, at, new(p))

    return edit


def record_word(rec_kind, change):
    def edit(data, p):
        _, off = record_of(data, p, rec_kind)
        word = u64(data, off)
        put_u64(data, off, change(word & 0xFF, word >> 8, p))

    return edit


def record_payload(rec_kind, payload_byte, value):
    def edit(data, p):
        _, off = record_of(data, p, rec_kind)
        data[off + 8 + payload_byte] = value

    return edit


CRAFTED = {
    # the header
    "unchanged": (lambda data, p: None, None),
    "root-past-end": (edit_root(lambda d, p: len(d) + 64), "open"),
    "root-leaf-past-end": (edit_root(lambda d, p: len(d) + 65), "open"),
    "root-huge": (edit_root(lambda d, p: M64 - 7), "open"),
    "root-huge-leaf": (edit_root(lambda d, p: M64), "open"),
    "root-in-header": (edit_root(lambda d, p: 8), "open"),
    "root-in-values": (edit_root(lambda d, p: p.values_start + 8), "open"),
    "root-misaligned": (edit_root(lambda d, p: p.objs[-1].off + 4), "open"),
    "root-at-64-node": (edit_root(lambda d, p: 64), "open"),
    "root-at-64-leaf": (edit_root(lambda d, p: 65), "open"),
    "root-inner-node": (edit_root(lambda d, p: first_node(p).ref), "open"),
    "root-zero": (edit_root(lambda d, p: 0), "open"),
    "count-plus-one": (edit_header(count=1), "open"),
    "count-minus-one": (edit_header(count=-1), "open"),
    "max-key-len-plus-one": (edit_header(max_key_len=1), "open"),
    "max-key-len-minus-one": (edit_header(max_key_len=-1), "open"),
    "nodes-size-plus-8": (edit_header(nodes_size=8), "open"),
    "nodes-size-minus-8": (edit_header(nodes_size=-8), "open"),
    "values-size-plus-8": (edit_header(values_size=8), "open"),
    "values-size-minus-8": (edit_header(values_size=-8), "open"),
    "sizes-shifted-by-8": (edit_header(nodes_size=8, values_size=-8), "open"),
    "sizes-shifted-back-by-8": (edit_header(nodes_size=-8, values_size=8), "open"),
    "sizes-unaligned": (edit_header(nodes_size=4, values_size=-4), "open"),
    "sizes-wrapping": (wrap_sizes, "open"),
    "values-section-absent": (values_into_nodes, "open"),
    "values-magic": (values_magic, "access"),
    # inner nodes
    "prefix-len-huge": (prefix_len(lambda n: 0xFFFFFFFF), "open"),
    "prefix-len-plus-8": (prefix_len(lambda n: n + 8), "open"),
    "prefix-len-past-section": (prefix_len(lambda n: n + (1 << 20)), "open"),
    "node-kind-4": (node_kind(4), "open"),
    "node-kind-255": (node_kind(255), "open"),
    "node4-keys-unsorted": (node4_keys_swapped, "open"),
    "node4-key-repeated": (node4_key_repeated, "open"),
    "node4-five-children": (node_count(NODE4, lambda n: 5), "open"),
    "node4-size-3": (node_cap(NODE4, lambda c: 3), "open"),
    "node4-size-8": (node_cap(NODE4, lambda c: 8), "open"),
    "node4-other-size": (node_cap(NODE4, lambda c: 6 - c), "open"),
    "node16-size-4": (node_cap(NODE16, lambda c: 4), "open"),
    "node16-other-size": (node_cap(NODE16, lambda c: 24 - c), "open"),
    "node48-size-48": (node_cap(NODE48, lambda c: 48), "open"),
    "node256-size-1": (node_cap(NODE256, lambda c: 1), "open"),
    "slot-bit-set": (node_shape(lambda o: not o.slot, lambda s: s | SLOT), "open"),
    "slot-bit-cleared": (node_shape(lambda o: o.slot, lambda s: s & ~SLOT), "open"),
    "shape-bit-6": (node_shape(lambda o: True, lambda s: s | 0x40), "open"),
    "slot-empty": (slot_emptied, "open"),
    "node4-no-children": (node_count(NODE4, lambda n: 0), "open"),
    "node4-one-child-fewer": (node_count(NODE4, lambda n: n - 1), "open"),
    "node16-three-children": (node_count(NODE16, lambda n: 3), "open"),
    "node16-seventeen-children": (node_count(NODE16, lambda n: 17), "open"),
    "node48-count-wrong": (node_count(NODE48, lambda n: n + 1), "open"),
    "node256-count-wrong": (node_count(NODE256, lambda n: n - 1), "open"),
    "node48-index-49": (node48_index(lambda d, n: (unused_node48_byte(d, n), 49)), "open"),
    "node48-index-255": (node48_index(lambda d, n: (unused_node48_byte(d, n), 255)), "open"),
    "node48-index-empty-slot": (
        node48_index(lambda d, n: (unused_node48_byte(d, n), n.n + 1)),
        "open",
    ),
    "node48-two-bytes-one-slot": (
        node48_index(lambda d, n: (unused_node48_byte(d, n), d[n.body + n.children[0][0]])),
        "open",
    ),
    "node48-slot-without-byte": (node48_index(lambda d, n: (n.children[0][0], 0)), "open"),
    "child-is-its-parent": (child_ref(child_to_self), "open"),
    "child-shared": (child_ref(child_shared), "open"),
    "child-leaf-node-swapped-tag": (child_ref(child_retagged), "open"),
    "child-zero": (child_ref(child_zeroed), "open"),
    # leaves
    "suffix-len-huge": (suffix_len(lambda s, leaf, p: 0xFFFFFFFF), "open"),
    "suffix-len-plus-8": (suffix_len(lambda s, leaf, p: s + 8), "open"),
    "suffix-len-past-section": (
        suffix_len(lambda s, leaf, p: p.values_start - leaf.off),
        "open",
    ),
    "leaf-value-zero": (value_ref(lambda p: 0), "open"),
    # value references
    "value-tag-011": (value_ref(lambda p: (5 << 3) | 3), "open"),
    "value-tag-100": (value_ref(lambda p: (5 << 3) | 4), "open"),
    "value-tag-111": (value_ref(lambda p: (5 << 3) | 7), "open"),
    "node-value-tag-011": (value_ref(lambda p: 3, where="node"), "open"),
    "value-constant-3": (value_ref(lambda p: (3 << 3) | 2), "open"),
    "value-constant-huge": (value_ref(lambda p: M64 & ~7 | 2), "open"),
    "record-ref-zero": (value_ref(lambda p: 0, where=REC_STR), "open"),
    "record-at-section-end": (
        value_ref(lambda p: p.header["values_size"], where=REC_STR),
        "open",
    ),
    "record-past-section": (
        value_ref(lambda p: p.header["values_size"] + 64, where=REC_STR),
        "open",
    ),
    "record-huge-offset": (value_ref(lambda p: 1 << 60, where=REC_STR), "open"),
    # value records
    "record-kind-0": (record_word(REC_STR, lambda k, n, p: n << 8), "access"),
    "record-kind-6": (record_word(REC_STR, lambda k, n, p: n << 8 | 6), "access"),
    "record-kind-9": (record_word(REC_STR, lambda k, n, p: n << 8 | 9), "access"),
    "record-kind-255": (record_word(REC_BYTES, lambda k, n, p: n << 8 | 255), "access"),
    "record-length-past-section": (
        record_word(REC_BYTES, lambda k, n, p: p.header["values_size"] << 8 | k),
        "access",
    ),
    "record-length-huge": (record_word(REC_STR, lambda k, n, p: M64 & ~0xFF | k), "access"),
    "float-record-length-4": (record_word(REC_FLOAT, lambda k, n, p: 4 << 8 | k), "access"),
    "float-record-length-16": (record_word(REC_FLOAT, lambda k, n, p: 16 << 8 | k), "access"),
    "pickle-kind-without-pickle-flag": (
        record_word(REC_BYTES, lambda k, n, p: n << 8 | REC_PICKLE),
        "access",
    ),
    "str-record-invalid-utf8": (record_payload(REC_STR, 0, 0xFF), "access"),
    "str-record-truncated-utf8": (record_payload(REC_STR, 3, 0xC3), "access"),
    "str-record-overlong-utf8": (record_payload(REC_STR, 0, 0xC0), "access"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_file(kind, tmp_path, case, plain_nodes):
    _crafted_file(kind, tmp_path, CRAFTED[case])


def first_bucket(p, min_keys=2):
    return next(o for o in p.objs if not o.leaf and o.kind == BUCKET and o.n >= min_keys)


def bucket_edit(change):
    """An edit of the first bucket of two keys or more: change(data, off,
    n, ends_at, values_at, keys_at)."""

    def edit(data, p):
        b = first_bucket(p)
        ends_at = b.off + 8 + pad8(b.n)
        values_at = ends_at + pad8(2 * b.n)
        change(data, b.off, b.n, ends_at, values_at, values_at + 8 * b.n)

    return edit


def zero_suffixes(data, off, n, ends_at, values_at, keys_at):
    # Every suffix byte 0: equal suffixes out of order, or wrong tags.
    (kbytes,) = struct.unpack_from("<I", data, off + 4)
    data[keys_at : keys_at + kbytes] = bytes(kbytes)


# (edit of a bucket, when it is found), on a map of buckets (the default).
CRAFTED_BUCKETS = {
    "unchanged": (lambda data, p: None, None),
    "flags": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off + 1, 1)), "open"),
    "count-up": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off + 2, n + 1)), "open"),
    "count-zero": (
        bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(slice(off + 2, off + 4), b"\0\0")),
        "open",
    ),
    "key-bytes-up": (
        bucket_edit(lambda d, off, n, e, v, k: put_u64(d, off, u64(d, off) + (8 << 32))),
        "open",
    ),
    # Room to grow is for memory only: a file's buckets have none.
    "spare-slot": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off + 6, 1)), "open"),
    "spare-words": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off + 7, 1)), "open"),
    "tag": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off + 8, d[off + 8] ^ 1)), "open"),
    "end-past-keys": (
        bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(slice(e, e + 2), b"\xff\xff")),
        "open",
    ),
    "ends-decrease": (
        bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(slice(e + 2, e + 4), b"\0\0")),
        "open",
    ),
    "value-zero": (bucket_edit(lambda d, off, n, e, v, k: put_u64(d, v, 0)), "open"),
    "value-bad-tag": (bucket_edit(lambda d, off, n, e, v, k: put_u64(d, v, 3)), "open"),
    "value-past-values": (bucket_edit(lambda d, off, n, e, v, k: put_u64(d, v, 1 << 40)), "open"),
    "suffixes-zeroed": (bucket_edit(zero_suffixes), "open"),
    "kind-5": (bucket_edit(lambda d, off, n, e, v, k: d.__setitem__(off, 5)), "open"),
    "version-2": (edit_header(version=-1), "open"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_BUCKETS))
def test_crafted_bucket_file(kind, tmp_path, case):
    _crafted_file(kind, tmp_path, CRAFTED_BUCKETS[case])


def _crafted_file(kind, tmp_path, spec):
    edit, when = spec
    m = kind.new(craft_texts())
    data = bytearray(saved(tmp_path, m).read_bytes())
    edit(data, parse_image(data))
    path = tmp_path / "crafted.blart"
    path.write_bytes(fix_checksum(data))
    if when is None:  # the control: an edit-free file still works
        assert kind.cls.load(path) == m
        assert FrozenTreeMap(path) == m
        return
    if when == "open":
        assert refusal_problems(path, kind.cls) == []
        assert refusal_problems(path, kind.cls, allow_pickle=True) == []
    else:  # found at open or on access, the error names the file
        named = re.escape(str(path))
        with pytest.raises(FormatError, match=named):
            kind.cls.load(path)
        with pytest.raises(FormatError, match=named):
            kind.cls.load(path, allow_pickle=True)
        with pytest.raises(FormatError, match=named):
            fm = FrozenTreeMap(path)
            read_everything(fm, list(m))


def test_corrupt_pickle_payload_with_allow_pickle(kind, tmp_path):
    """A pickled record whose payload is not a pickle."""
    data = bytearray(
        saved(tmp_path, kind.new({"a": 1, "p": [1, 2, 3]}), allow_pickle=True).read_bytes()
    )
    p = parse_image(data)
    _, off = record_of(data, p, REC_PICKLE)
    length = u64(data, off) >> 8
    data[off + 8 : off + 8 + length] = b"\xff" * length
    path = tmp_path / "bad.blart"
    path.write_bytes(fix_checksum(data))
    named = re.escape(str(path))
    with pytest.raises(FormatError, match=named):
        kind.cls.load(path, allow_pickle=True)
    with pytest.raises(FormatError, match=named):
        fm = FrozenTreeMap(path, allow_pickle=True)
        list(fm.values())


# ---------------------------------------------------------------------------
# Atomic saves
# ---------------------------------------------------------------------------


def test_save_replaces_an_existing_file(kind, tmp_path):
    path = saved(tmp_path, kind.new({"old": 1, "older": 2}))
    kind.new({"new": 3}).save(path)
    assert kind.cls.load(path) == kind.d({"new": 3})
    assert listing(tmp_path) == ["m.blart"]
    path.write_bytes(b"not a blart file")
    kind.new({"newer": 4}).save(path)
    assert FrozenTreeMap(path) == kind.d({"newer": 4})
    assert listing(tmp_path) == ["m.blart"]


def test_failed_save_leaves_the_old_file_and_no_temp_files(kind, tmp_path):
    path = saved(tmp_path, kind.new({"keep": 1}))
    before = path.read_bytes()
    bad = kind.new({"a": 1, "z": [2]})
    with pytest.raises(ValueError):
        bad.save(path)
    with pytest.raises(Boom):
        kind.new({"a": RaisingReduce()}).save(path, allow_pickle=True)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["m.blart"]
    assert kind.cls.load(path) == kind.d({"keep": 1})


def test_save_into_a_missing_directory(kind, tmp_path):
    with pytest.raises(FileNotFoundError):
        kind.new({"a": 1}).save(tmp_path / "missing" / "m.blart")
    assert listing(tmp_path) == []


def test_save_over_a_directory_fails_cleanly(kind, tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        kind.new({"a": 1}).save(tmp_path / "d")
    assert listing(tmp_path) == ["d"]
    assert listing(tmp_path / "d") == []


def test_saved_file_mode_is_that_of_open(kind, tmp_path):
    """A new file gets the mode open() would give it (not the temporary
    file's 0600); saving over a file keeps that file's mode."""
    if os.name != "posix":
        return
    umask = os.umask(0)
    os.umask(umask)
    path = saved(tmp_path, kind.new({"a": 1}))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(path, 0o640)
    kind.new({"b": 2}).save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_the_umask_is_never_changed(kind, tmp_path, monkeypatch):
    """The umask is the process's: setting it, even only to read it, makes
    every file another thread creates meanwhile world-writable.  Neither
    importing blart's file module nor saving a new file or over one ever
    calls os.umask."""
    import importlib

    import blart._persist as persist

    calls = []
    umask = os.umask

    def watched(mask):
        calls.append(mask)
        return umask(mask)

    monkeypatch.setattr(os, "umask", watched)
    importlib.reload(persist)
    path = saved(tmp_path, kind.new({"a": 1}))
    kind.new({"b": 2}).save(path)
    assert kind.cls.load(path) == kind.new({"b": 2})
    assert calls == []


def test_save_is_repeatable_and_deterministic(kind, tmp_path):
    m = kind.new({**craft_texts(), **NATIVE_VALUES})
    first = saved(tmp_path, m, name="1").read_bytes()
    second = saved(tmp_path, m, name="2").read_bytes()
    assert first == second
    assert saved(tmp_path, m.copy(), name="3").read_bytes() == first


# ---------------------------------------------------------------------------
# Re-entrancy
# ---------------------------------------------------------------------------


class Mutator:
    """Runs `action` (once) when pickled."""

    def __init__(self, action):
        self.action = action

    def __reduce__(self):
        action, self.action = self.action, None
        if action is not None:
            action()
        return (str, ("pickled",))


@pytest.mark.parametrize("mutation", ["insert", "delete", "delete-self", "clear", "pop_first"])
def test_save_detects_mutation_from_reduce(kind, tmp_path, mutation):
    m = kind.new({"a": 1, "c": 3, "d": [4]})
    actions = {
        "insert": lambda: m.__setitem__(kind.k("zz"), 1),
        "delete": lambda: m.__delitem__(kind.k("d")),
        "delete-self": lambda: m.__delitem__(kind.k("b")),
        "clear": m.clear,
        "pop_first": m.pop_first,
    }
    m[kind.k("b")] = Mutator(actions[mutation])
    target = tmp_path / "m.blart"
    with pytest.raises(RuntimeError):
        m.save(target, allow_pickle=True)
    assert m._validate() is None
    check_consistent(m)
    assert listing(tmp_path) == []
    # Without the mutation, the same map saves.
    if kind.k("b") in m:
        m[kind.k("b")] = Mutator(None)
    m.save(target, allow_pickle=True)
    assert kind.cls.load(target, allow_pickle=True).keys() == m.keys()


@pytest.mark.parametrize("which", ["own", "later"])
def test_save_survives_value_replacement_from_reduce(kind, tmp_path, which):
    """Replacing a value (which frees the old one) while saving: either a
    RuntimeError or a file with the old or the new value; never a crash."""
    m = kind.new({"a": 1})
    key = kind.k("b" if which == "own" else "c")
    m[kind.k("b")] = Mutator(lambda: m.__setitem__(key, "replacement"))
    m[kind.k("c")] = [3] * 3
    target = tmp_path / "m.blart"
    try:
        m.save(target, allow_pickle=True)
    except RuntimeError:
        assert listing(tmp_path) == []
    else:
        loaded = kind.cls.load(target, allow_pickle=True)
        assert loaded[kind.k("b")] in ("pickled", "replacement")
        assert loaded[kind.k("c")] in ([3, 3, 3], "replacement")
        assert listing(tmp_path) == ["m.blart"]
    check_consistent(m)


def test_nested_save_from_reduce_does_not_crash(kind, tmp_path):
    m = kind.new({"a": 1})
    inner = tmp_path / "inner.blart"
    m[kind.k("b")] = Mutator(lambda: m.save(inner, allow_pickle=True))
    try:
        m.save(tmp_path / "outer.blart", allow_pickle=True)
    except RuntimeError:
        pass
    check_consistent(m)
    assert set(listing(tmp_path)) <= {"inner.blart", "outer.blart"}
    for name in listing(tmp_path):
        assert kind.cls.load(tmp_path / name, allow_pickle=True).keys() == m.keys()


# ---------------------------------------------------------------------------
# Several processes
# ---------------------------------------------------------------------------


def _frozen_worker(source, keys, queue):
    fm = source if isinstance(source, FrozenTreeMap) else FrozenTreeMap(source)
    queue.put(
        (
            [fm.get(k) for k in keys],
            list(fm.prefix_iter(keys[0][:1])),
            fm.floor(keys[-1]),
            len(fm),
        )
    )


def test_processes_share_a_frozen_file(kind, tmp_path):
    texts = query_map_texts()
    m = kind.cls({kind.k(t): i for i, t in enumerate(texts)})
    path = saved(tmp_path, m)
    fm = FrozenTreeMap(path)
    keys = list(m)[::7] + [kind.k("absent")]
    expected = (
        [m.get(k) for k in keys],
        list(m.prefix_iter(keys[0][:1])),
        m.floor(keys[-1]),
        len(m),
    )
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    # One child opens the path itself, the other is handed the open map
    # (inherited under fork, pickled and so reopened under spawn).
    procs = [ctx.Process(target=_frozen_worker, args=(src, keys, queue)) for src in (str(path), fm)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert results == [expected, expected]
    assert [fm.get(k) for k in keys] == expected[0]


def test_frozen_subclass_keeps_its_type_and_attributes_through_pickle(tmp_path):
    """A FrozenTreeMap subclass reopens as the subclass, with its instance
    attributes, as a TreeMap subclass does."""

    path = tmp_path / "sub.blart"
    TreeMap({"a": 1, "b": 2}).save(path)
    f = _FrozenSub(path)
    f.note = "kept"
    g = pickle.loads(pickle.dumps(f))
    assert type(g) is _FrozenSub
    assert g.note == "kept"
    assert g == f == {"a": 1, "b": 2}
    assert g.first_key() == "a"


class _FrozenSub(FrozenTreeMap):
    def first_key(self):
        return self.first()[0]


# --------------------------------------------------------------------------
# The binding's own failure paths: writing to a file that fails, a file
# that shrinks while it is read, the small protocol methods
# --------------------------------------------------------------------------


class _FailingFile:
    """A binary file object whose write (the n-th call) or seek fails."""

    def __init__(self, fail_write_at=None, fail_seek=False):
        self.calls = 0
        self.fail_write_at = fail_write_at
        self.fail_seek = fail_seek
        self.data = bytearray()
        self.pos = 0

    def write(self, b):
        self.calls += 1
        if self.calls == self.fail_write_at:
            raise OSError("disk full")
        b = bytes(b)
        self.data[self.pos : self.pos + len(b)] = b
        self.pos += len(b)
        return len(b)

    def seek(self, pos, whence=0):
        if self.fail_seek:
            raise OSError("cannot seek")
        self.pos = pos
        return pos


@pytest.mark.parametrize("at", [1, 2, 3])
def test_dump_passes_on_a_write_error(at):
    """A write that fails, first (the header), second (the nodes) or third
    (the values), is the error save() reports; the map is unchanged and can
    be saved again."""
    m = TreeMap({f"k{i}": i for i in range(100)})
    with pytest.raises(OSError, match="disk full"):
        m._dump(_FailingFile(fail_write_at=at), False)
    m._validate()
    m["new"] = 1  # not stuck in the saving state
    good = _FailingFile()
    m._dump(good, False)
    data = bytes(good.data)
    assert data[:8] == b"BLARTMAP"
    assert int.from_bytes(data[56:64], "little") == _checksum(data[64:] + data[:56])


def test_dump_passes_on_a_seek_error():
    with pytest.raises(OSError, match="cannot seek"):
        TreeMap({"a": 1})._dump(_FailingFile(fail_seek=True), False)


def test_dump_arguments():
    m = TreeMap({"a": 1})
    with pytest.raises(TypeError):
        m._dump(_FailingFile())
    with pytest.raises(TypeError):
        m._dump(_FailingFile(), "yes")
    with pytest.raises(AttributeError):
        m._dump(object(), False)


def test_load_of_a_file_that_shrinks_while_read(tmp_path, monkeypatch):
    """The size load() was told is more than the file holds: FormatError,
    not a short read taken for data."""
    import io

    import blart._persist as persist

    path = tmp_path / "m.blart"
    TreeMap({f"k{i}": i for i in range(1000)}).save(path)
    data = path.read_bytes()

    def short_open(p):
        return io.BytesIO(data[: len(data) // 2]), os.fspath(p), len(data)

    monkeypatch.setattr(persist, "open_for_load", short_open)
    with pytest.raises(FormatError, match="shorter"):
        TreeMap.load(path)


def test_load_sleeps_while_its_file_is_slow(tmp_path, monkeypatch):
    """While load waits for a slow file (a cold disk, a network mount), the
    thread that sums the checksum as the file comes in sleeps instead of
    spinning: the process spends little CPU time while it waits."""
    import time

    import blart._persist as persist

    path = tmp_path / "m.blart"
    m = TreeMap({f"k{i:05d}": i for i in range(20_000)})
    m.save(path)
    pause = 0.2
    reads = []

    class SlowFile:
        def __init__(self, f):
            self.f = f

        def readinto(self, buffer):
            time.sleep(pause)
            reads.append(len(buffer))
            return self.f.readinto(buffer)

        def close(self):
            self.f.close()

    opened = persist.open_for_load

    def slow_open(p):
        f, full, size = opened(p)
        return SlowFile(f), full, size

    def cpu_of_a_load():
        cpu = time.process_time()
        loaded = TreeMap.load(path)
        return time.process_time() - cpu, loaded

    # What the load costs when the file is quick, measured the same way in
    # the same process (a sanitizer's build decodes many times slower than
    # a plain one): waiting may add little to it.
    work = min(cpu_of_a_load()[0] for _ in range(3))
    monkeypatch.setattr(persist, "open_for_load", slow_open)
    cpu, loaded = cpu_of_a_load()
    assert loaded == m
    # The header, then the nodes and the values: the checksum's thread
    # waits through the last two pauses at least.  Spinning, it would spend
    # about as much CPU time again as it waits.
    assert len(reads) >= 3
    waited = pause * (len(reads) - 1)
    extra = cpu - work
    assert extra < waited / 4, (
        f"{extra:.3f} s of CPU time beyond the load's {work:.3f} s in {waited:.1f} s of waiting"
    )


def test_frozen_sizeof_and_weakref(tmp_path):
    import sys
    import weakref

    path = tmp_path / "m.blart"
    TreeMap({"a": 1}).save(path)
    f = FrozenTreeMap(path)
    assert sys.getsizeof(f) > 0
    called = []
    r = weakref.ref(f, lambda _: called.append(True))
    assert r() is f
    del f
    gc.collect()
    assert r() is None
    assert called == [True]
