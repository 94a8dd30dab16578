"""Allocation-failure hardening: make the n-th allocation of the C tree
library fail, for n = 1, 2, ... until the operation succeeds.

Every failure must surface as MemoryError (nothing else, no crash) and
leave the map valid (``_validate()``).  A single-key change (insert,
delete, pop...) or a copy must leave the map exactly as it was, as the
README promises; an update keeps the items applied before the failure, so
the map must then hold the old items updated by a prefix of the source's
items, each applied whole.  Iterators may end after a MemoryError from
next(), but what they yielded before is correct and the map is intact.

The number of failure points each sweep met is collected in ``FIGURES``
and printed at the end of the module (visible with ``pytest -s``).
"""

import copy
import gc
import pickle
import sys

import pytest
from blart._blart import _live_allocations
from support import KINDS, check_consistent

from blart import BytesTreeMap, TreeMap

LIMIT = 5000  # no operation here needs this many allocations

FIGURES = {}


def record(name, failures):
    FIGURES[name] = FIGURES.get(name, 0) + failures


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    total = sum(FIGURES.values())
    lines = [f"  {name}: {count}" for name, count in sorted(FIGURES.items())]
    print(f"\nallocation-failure points swept: {total}\n" + "\n".join(lines))


class Value:
    """A value whose reference count is checked after failures."""

    def __init__(self, tag=None):
        self.tag = tag

    def __eq__(self, other):
        return isinstance(other, Value) and other.tag == self.tag

    __hash__ = None

    def __repr__(self):
        return f"Value({self.tag!r})"


def armed(m, n):
    m._fail_alloc(n)


def disarm(*maps):
    for m in maps:
        m._fail_alloc(0)


def sweep_atomic(m, op, *, name, expect_failures=True):
    """Sweeps op, a change of at most one key or a read; after each
    MemoryError the map must be exactly as before.  Returns op's result."""
    before = list(m.items())
    failures = 0
    for n in range(1, LIMIT):
        armed(m, n)
        try:
            result = op()
        except MemoryError:
            disarm(m)
            failures += 1
            m._validate()
            assert list(m.items()) == before, f"{name}: changed by a failure (n={n})"
            continue
        finally:
            disarm(m)
        record(name, failures)
        if expect_failures:
            assert failures > 0, f"{name}: no allocation failed"
        return result
    raise AssertionError(f"{name}: never succeeded")


# --------------------------------------------------------------------------
# Insert: every node kind, growth, prefix and leaf splits
# --------------------------------------------------------------------------


def _kinds_delta(before, after):
    return {
        k: after[k] - before[k]
        for k in (
            "node4",
            "node16",
            "node48",
            "node256",
            "leaves",
            "node_values",
            "buckets",
            "bucket_keys",
        )
    }


# (existing keys, new key, what the insert does to the shape)
INSERT_CASES = {
    "into_empty": ([], "abc", {"leaves": 1}),
    "leaf_split": (["abc"], "abd", {"node4": 1, "leaves": 1}),
    "prefix_split": (["x" * 40 + "a", "x" * 40 + "b"], "x" * 20 + "y", {"node4": 1, "leaves": 1}),
    "leaf_becomes_node": (["abc"], "abcd", {"node4": 1, "node_values": 1}),
    "value_slot_with_split": (["pref", "prefix", "prefab"], "pr", {"node4": 1, "node_values": 1}),
    "node4_add_child": (["a", "b", "c"], "d", {"leaves": 1}),
    "grow_4_to_16": (list("abcd"), "e", {"node4": -1, "node16": 1, "leaves": 1}),
    "node16_add_child": ([chr(0x61 + i) for i in range(10)], "z", {"node16": 0, "leaves": 1}),
    "node48_add_child": ([chr(0x30 + i) for i in range(20)], "~", {"node48": 0, "leaves": 1}),
    "grow_16_to_48": (
        [chr(0x61 + i) for i in range(16)],
        "z",
        {"node16": -1, "node48": 1, "leaves": 1},
    ),
    "grow_48_to_256": (
        [chr(0x30 + i) for i in range(48)],
        "~",
        {"node48": -1, "node256": 1, "leaves": 1},
    ),
    "node256_add_child": ([chr(0x21 + i) for i in range(60)], "~", {"leaves": 1}),
    "deep_grow": (
        ["k" + chr(0x30 + i) + "tail" for i in range(16)],
        "k~tail",
        {"node16": -1, "node48": 1, "leaves": 1},
    ),
    "long_key": (["a", "b"], "L" * 3000, {"leaves": 1}),
    "long_prefix_split": (
        ["P" * 2000 + "a", "P" * 2000 + "b"],
        "P" * 1000 + "c",
        {"node4": 1, "leaves": 1},
    ),
    "non_ascii_split": (["日本", "日本語"], "日曜", {"node4": 1, "leaves": 1}),
}


# The same with buckets (the default: 64 keys, 2 KiB of suffixes each).
BUCKET_INSERT_CASES = {
    "into_empty": ([], "abc", {"leaves": 1}),
    "leaf_becomes_bucket": (["abc"], "abd", {"leaves": -1, "buckets": 1, "bucket_keys": 2}),
    "bucket_grows": (["abc", "abd"], "ab", {"buckets": 0, "bucket_keys": 1}),
    # 64 keys in one bucket; the 65th bursts it into a node over the runs
    # of each first digit: 10 keys each for 0-5, 4 for 6, and "99x" alone
    # a leaf.
    "bucket_bursts": (
        [f"{i:02d}" for i in range(64)],
        "99x",
        {"node16": 1, "buckets": 6, "bucket_keys": 0, "leaves": 1},
    ),
    # "p" and "p00".."p62": the node takes the prefix "p" and "p"'s value.
    "bucket_bursts_with_a_value": (
        ["p"] + [f"p{i:02d}" for i in range(63)],
        "p64",
        {"node16": 1, "node_values": 1, "buckets": 6, "bucket_keys": 0, "leaves": 0},
    ),
    # Over 2 KiB / 4 = 512 bytes: never in a bucket, so "a" and "b" leave
    # theirs too, under a node of three leaves.
    "long_suffix_stays_a_leaf": (
        ["a", "b"],
        "L" * 600,
        {"node4": 1, "leaves": 3, "buckets": -1, "bucket_keys": -2},
    ),
    "new_leaf_beside_buckets": (
        [f"{i:02d}" for i in range(65)],
        "x",
        {"leaves": 1, "buckets": 0},
    ),
}


@pytest.mark.parametrize("case", sorted(BUCKET_INSERT_CASES))
@pytest.mark.parametrize("api", ["setitem", "update"])
def test_insert_sweep_with_buckets(kind, case, api):
    _insert_sweep(kind, BUCKET_INSERT_CASES[case], case, api)


@pytest.mark.parametrize("case", sorted(INSERT_CASES))
@pytest.mark.parametrize("api", ["setitem", "insert", "setdefault", "update"])
def test_insert_sweep(kind, case, api, plain_nodes):
    _insert_sweep(kind, INSERT_CASES[case], case, api)


def _insert_sweep(kind, spec, case, api):
    texts, new_text, shape_change = spec
    m = kind.cls({kind.k(t): Value(t) for t in texts})
    new = kind.k(new_text)
    value = Value("new")
    refs = sys.getrefcount(value)
    stats_before = m.stats()
    op = {
        "setitem": lambda: m.__setitem__(new, value),
        "insert": lambda: m.insert(new, value),
        "setdefault": lambda: m.setdefault(new, value),
        "update": lambda: m.update([(new, value)]),
    }[api]
    sweep_atomic(m, op, name=f"insert:{case}")
    # Failed attempts did not keep a reference to the value.
    assert sys.getrefcount(value) == refs + 1
    expected = {kind.k(t): Value(t) for t in texts}
    expected[new] = value
    check_consistent(m, expected)
    delta = _kinds_delta(stats_before, m.stats())
    for key, change in shape_change.items():
        assert delta[key] == change, f"{case}: {key} changed by {delta[key]}, not {change}"


def test_replacing_a_value_never_allocates(kind):
    m = kind.cls({kind.k(t): t for t in ["a", "ab", "abc", "b"]})
    for key in list(m):
        armed(m, 1)
        try:
            m[key] = "replaced"
            m.insert(key, "again")
            m.setdefault(key, "unused")
        finally:
            disarm(m)
    check_consistent(m, {key: "again" for key in m})


@pytest.mark.parametrize("buckets", [True, False], ids=["buckets", "plain"])
def test_insert_sweep_builds_a_large_map(kind, buckets, request):
    """Inserting 600 keys one by one, each swept: every node kind grows
    (with buckets: above them; the 60-way node needs 60 buckets' worth)."""
    if not buckets:
        request.getfixturevalue("plain_nodes")
    texts = [f"{i:03d}" for i in range(0, 1000, 7)]
    texts += [chr(0x21 + i) for i in range(94)]
    texts += ["k" + chr(0x21 + i) for i in range(60)]
    texts += ["n" + chr(0x41 + i) + "x" * (i % 5) for i in range(20)]
    texts += ["é" * i for i in range(1, 30)] + [""]
    m = kind.cls()
    expected = {}
    seen = {"node4": 0, "node16": 0, "node48": 0, "node256": 0, "buckets": 0}
    for t in texts:
        key = kind.k(t)
        # A key ending at an existing inner node only fills its value slot.
        sweep_atomic(
            m, lambda: m.__setitem__(key, t), name="insert:large-map", expect_failures=False
        )
        expected[key] = t
        stats = m.stats()
        for kind_name in seen:
            seen[kind_name] = max(seen[kind_name], stats[kind_name])
    check_consistent(m, expected)
    if buckets:
        assert seen["buckets"] and seen["node256"], seen
    else:
        assert all(v for k, v in seen.items() if k != "buckets"), seen
        assert seen["buckets"] == 0
    assert FIGURES["insert:large-map"] >= len(texts) // 2


# --------------------------------------------------------------------------
# Delete: node shrink 256 -> 48 -> 16 -> 4, merges
# --------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["delitem", "pop", "remove"])
def test_delete_sweep_shrinks_every_node_kind(kind, api):
    children = [chr(0x21 + i) for i in range(70)]
    texts = ["s" + c for c in children] + ["s" + c + "tail" for c in children[:5]] + ["s", "t"]
    m = kind.cls({kind.k(t): Value(t) for t in texts})
    assert m.stats()["node256"] >= 1
    expected = dict(m)
    transitions = set()
    failures_before = FIGURES.get("delete:shrink", 0)
    # Delete the children of the Node256 under "s" one by one.
    for t in (
        ["s" + c for c in reversed(children)]
        + [t for t in texts if t.endswith("tail")]
        + ["s", "t"]
    ):
        key = kind.k(t)
        before = m.stats()
        op = {
            "delitem": lambda: m.__delitem__(key),
            "pop": lambda: m.pop(key),
            "remove": lambda: m.remove(key),
        }[api]
        sweep_atomic(m, op, name="delete:shrink", expect_failures=False)
        del expected[key]
        after = m.stats()
        for a, b in (("node256", "node48"), ("node48", "node16"), ("node16", "node4")):
            if after[a] < before[a] and after[b] > before[b]:
                transitions.add(f"{a}->{b}")
        if sum(after[k] for k in ("node4", "node16", "node48", "node256")) < sum(
            before[k] for k in ("node4", "node16", "node48", "node256")
        ):
            transitions.add("fewer-nodes")
        check_consistent(m, expected)
    assert len(m) == 0
    assert transitions >= {"node256->node48", "node48->node16", "node16->node4", "fewer-nodes"}, (
        transitions
    )
    assert FIGURES["delete:shrink"] > failures_before


MERGE_CASES = {
    # existing keys, key deleted: the deletion merges or removes a node
    "node4_to_leaf": (["abc", "abd"], "abd"),
    "long_prefix_merge": (["x" * 40 + "a", "x" * 40 + "b"], "x" * 40 + "b"),
    "value_node_merges_with_leaf": (["pre", "prefix"], "pre"),
    "value_node_merges_with_node": (["pre", "prefix", "prefab"], "pre"),
    "child_leaves_value_node": (["pre", "prefix"], "prefix"),
    "middle_of_chain": (["a", "ab", "abc", "abcd"], "ab"),
    "long_key_merge": (
        ["P" * 2000 + "a", "P" * 2000 + "bcd", "P" * 2000 + "bce"],
        "P" * 2000 + "a",
    ),
    "non_ascii_merge": (["日本", "日本語", "日曜"], "日曜"),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_delete_sweep_merges(kind, case, plain_nodes):
    _delete_sweep(kind, MERGE_CASES[case], case)


# With buckets: a node over a bucket and a leaf whose suffix is too long
# for a bucket merges into one bucket when the leaf goes.
BUCKET_MERGE_CASES = {
    "node_merges_into_bucket": (["Pa1", "Pa2", "P" + "L" * 600], "P" + "L" * 600),
    "inner_node_merges_into_bucket": (
        ["Pa1", "Pa2", "Pb" + "L" * 600, "Q"],
        "Pb" + "L" * 600,
    ),
}


@pytest.mark.parametrize("case", sorted(BUCKET_MERGE_CASES))
def test_delete_sweep_merges_with_buckets(kind, case):
    _delete_sweep(kind, BUCKET_MERGE_CASES[case], case)
    assert kind.cls({kind.k(t): 1 for t in BUCKET_MERGE_CASES[case][0]}).stats()["buckets"] == 1


def test_bucket_shifts_in_place_until_half_empty(kind):
    """Within a bucket, inserts use its spare room and deletes shift down,
    with no allocation; the delete that leaves fewer than half its slots
    in use copies it into a block of its size, and a failure of that
    allocation changes nothing."""
    m = kind.cls()
    expected = {}
    for i in range(40):
        m[kind.k(f"a{i:02d}")] = expected[kind.k(f"a{i:02d}")] = Value(i)
    assert m.stats()["buckets"] == 1
    # The last inserts found room: each succeeds with allocation failing.
    spare = m.stats()["bucket_spare"]
    assert spare > 0
    armed(m, 1)
    try:
        m[kind.k("a40")] = expected[kind.k("a40")] = Value(40)
    finally:
        disarm(m)
    assert m.stats()["bucket_spare"] < spare
    shrunk = False
    for i in range(41):
        key = kind.k(f"a{i:02d}")
        before = m.stats()
        armed(m, 1)
        try:
            del m[key]
        except MemoryError:
            disarm(m)
            check_consistent(m, expected)
            assert m.stats() == before
            # Not yet in place: the bucket is copied, its room given back.
            sweep_atomic(m, lambda: m.pop(key), name="delete:bucket_shrinks")
            assert m.stats()["bucket_spare"] == 0
            assert m.stats()["bytes"] < before["bytes"]
            shrunk = True
        finally:
            disarm(m)
        del expected[key]
        check_consistent(m, expected)
        if shrunk:
            break
    assert shrunk and 2 * len(m) < 41 + 8


def _delete_sweep(kind, spec, case):
    texts, gone = spec
    m = kind.cls({kind.k(t): Value(t) for t in texts})
    value = m[kind.k(gone)]
    refs = sys.getrefcount(value)
    nodes_before = sum(m.stats()[k] for k in ("node4", "node16", "node48", "node256"))
    result = sweep_atomic(m, lambda: m.pop(kind.k(gone)), name=f"delete:{case}")
    assert result is value
    del result
    assert sys.getrefcount(value) == refs - 1  # the map's reference went, no other
    check_consistent(m, {kind.k(t): Value(t) for t in texts if t != gone})
    # Every case removes or rebuilds an inner node.
    nodes_after = sum(m.stats()[k] for k in ("node4", "node16", "node48", "node256"))
    assert nodes_after <= nodes_before


@pytest.mark.parametrize("api", ["popitem", "pop_first", "pop_last"])
def test_pop_edges_sweep(kind, api):
    texts = ["a", "ab", "abc", "b", "ba", "c"] + [chr(0x30 + i) for i in range(20)]
    m = kind.cls({kind.k(t): t for t in texts})
    expected = dict(m)
    while m:
        item = sweep_atomic(m, getattr(m, api), name=f"delete:{api}")
        key, value = item
        assert expected.pop(key) == value
        check_consistent(m, expected)
    if api == "popitem":
        with pytest.raises(KeyError):
            m.popitem()
    else:
        assert getattr(m, api)() is None


# --------------------------------------------------------------------------
# Copy, |, pickle, deepcopy
# --------------------------------------------------------------------------

BIG_TEXTS = sorted(
    set(
        [chr(0x21 + i) for i in range(90)]
        + ["k" + chr(0x30 + i) for i in range(40)]
        + ["n" + chr(0x41 + i) for i in range(10)]
        + ["pre", "prefix", "prefab", "x" * 40 + "a", "x" * 40 + "b", "", "é", "日本", "日本語"]
        + [f"{i:04d}" for i in range(0, 2000, 17)]
        + ["L" * 1500]
    )
)


def big_map(kind, cls=None):
    return (cls or kind.cls)({kind.k(t): i for i, t in enumerate(BIG_TEXTS)})


@pytest.mark.parametrize("how", ["copy", "__copy__", "copy.copy", "or_empty_dict"])
def test_copy_sweep(kind, how):
    m = big_map(kind)
    expected = dict(m)
    gc.collect()
    live = _live_allocations()
    op = {
        "copy": m.copy,
        "__copy__": m.__copy__,
        "copy.copy": lambda: copy.copy(m),
        "or_empty_dict": lambda: m | {},
    }[how]
    failures_before = FIGURES.get("copy", 0)
    c = sweep_atomic(m, op, name="copy")
    assert FIGURES["copy"] - failures_before >= 3  # nodes, leaves, pages
    assert type(c) is kind.cls
    check_consistent(c, expected)
    check_consistent(m, expected)
    c[kind.k("zz")] = 1
    assert kind.k("zz") not in m
    # Failed copies gave everything back.
    del c
    gc.collect()
    assert _live_allocations() == live


def test_ror_sweep_arms_the_right_operand(kind):
    m = big_map(kind)
    d = {kind.k("zzz"): 1}
    expected = dict(d)
    expected.update(m)
    result = sweep_atomic(m, lambda: d | m, name="or:reflected")
    check_consistent(result, expected)


class ArmedTreeMap(TreeMap):
    """Arms the injection as soon as the map exists, before __init__ fills
    it: pickle, deepcopy and fromkeys build maps by calling the class, then
    setting items."""

    arm = 0

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        if cls.arm:
            self._fail_alloc(cls.arm)
        return self


class ArmedBytesTreeMap(BytesTreeMap):
    arm = 0

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        if cls.arm:
            self._fail_alloc(cls.arm)
        return self


ARMED = {TreeMap: ArmedTreeMap, BytesTreeMap: ArmedBytesTreeMap}


def sweep_construction(cls, make, expected, name):
    """Sweeps an operation that builds a new map of class cls."""
    failures = 0
    gc.collect()
    live = _live_allocations()
    try:
        for n in range(1, LIMIT):
            cls.arm = n
            failed = False
            try:
                result = make()
            except MemoryError:
                failed = True
            if failed:
                # Out of the except clause the traceback, and with it the
                # half-built map, is gone: all its memory must be back
                # (without a collection: nothing here is a cycle).
                failures += 1
                assert _live_allocations() == live, f"{name}: memory kept after failure n={n}"
                continue
            cls.arm = 0
            disarm(result)
            record(name, failures)
            assert failures > 0
            assert type(result) is cls
            check_consistent(result, expected)
            return result
    finally:
        cls.arm = 0
    raise AssertionError(f"{name}: never succeeded")


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip_sweep(kind, protocol):
    cls = ARMED[kind.cls]
    m = big_map(kind, cls)
    expected = dict(m)
    # dumps walks m with a cursor: its buffers can fail.
    data = sweep_atomic(m, lambda: pickle.dumps(m, protocol), name="pickle:dumps")
    # loads builds a new map item by item.
    sweep_construction(cls, lambda: pickle.loads(data), expected, "pickle:loads")
    check_consistent(m, expected)


def test_deepcopy_sweep(kind):
    cls = ARMED[kind.cls]
    m = big_map(kind, cls)
    m[kind.k("list")] = [1, [2]]
    expected = dict(m)
    result = sweep_construction(cls, lambda: copy.deepcopy(m), expected, "deepcopy")
    assert result[kind.k("list")] is not m[kind.k("list")]
    # deepcopy also iterates the source: sweep its cursor too.
    sweep_atomic(m, lambda: copy.deepcopy(m), name="deepcopy:source")


def test_constructor_sweep(kind):
    """The new map's own failures, swept via the Armed class: a map made
    from a map copies its tree, from a batch in key order builds it, each
    allocation of which may fail.  The source allocates nothing."""
    cls = ARMED[kind.cls]
    m = big_map(kind)
    expected = dict(m)
    sweep_construction(cls, lambda: cls(m), expected, "constructor:from-map")
    sweep_construction(cls, lambda: cls(expected), expected, "constructor:from-dict")
    sweep_construction(cls, lambda: cls(list(expected.items())), expected, "constructor:from-pairs")
    sweep_construction(
        cls, lambda: cls.fromkeys(expected, 0), dict.fromkeys(expected, 0), "fromkeys"
    )
    sweep_atomic(m, lambda: kind.cls(m), name="constructor:source", expect_failures=False)
    assert FIGURES.get("constructor:source", 0) == 0


# --------------------------------------------------------------------------
# update: a prefix of the source is applied, each item whole
# --------------------------------------------------------------------------


def applied_prefix(before, items, after):
    """Whether `after` is `before` updated with items[:j] for some j."""
    state = dict(before)
    if after == state:
        return True
    for key, value in items:
        state[key] = value
        if after == state:
            return True
    return False


def source_of(kind, how, items):
    if how == "dict":
        return dict(items)
    if how == "pairs":
        return list(items)
    if how == "iterator":
        return iter(list(items))
    if how == "map":
        return kind.cls(items)
    if how == "mapping":

        class Mapping:
            def keys(self):
                return [k for k, _ in items]

            def __getitem__(self, key):
                return dict(items)[key]

        return Mapping()
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["dict", "pairs", "iterator", "map", "mapping"])
@pytest.mark.parametrize("api", ["update", "ior", "update_with_kwargs"])
def test_update_sweep(kind, how, api):
    base = {kind.k(t): t for t in ["a", "ab", "b"] + [chr(0x30 + i) for i in range(14)]}
    new_texts = (
        [chr(0x41 + i) for i in range(50)] + ["ab" + chr(0x41 + i) for i in range(20)] + ["a"]
    )
    items = [(kind.k(t), "new-" + t) for t in new_texts]
    if how == "map":
        items.sort()  # a map is read in key order
    kwargs = {} if kind.is_bytes or api != "update_with_kwargs" else {"kw": 1, "a": "kw"}
    applied = items + list(kwargs.items())  # keyword arguments come last
    failures = 0
    for n in range(1, LIMIT):
        target = kind.cls(base)
        src = source_of(kind, how, items)
        armed(target, n)
        try:
            if api == "update":
                target.update(src)
            elif api == "ior":
                target |= src
            else:
                target.update(src, **kwargs)
        except MemoryError:
            disarm(target)
            failures += 1
            target._validate()
            assert applied_prefix(base, applied, dict(target)), (
                f"update failed at n={n}: not a prefix"
            )
            continue
        finally:
            disarm(target)
        break
    else:
        raise AssertionError("update never succeeded")
    record("update", failures)
    assert failures > 10
    expected = dict(base)
    expected.update(applied)
    check_consistent(target, expected)


def test_update_from_map_sweeps_the_source_cursor(kind):
    """A map with keys is updated from another map through a cursor on the
    source, whose allocations may fail (an empty one copies the tree)."""
    src = big_map(kind)
    extra = kind.k("\U0010ffff extra")
    expected = dict(src)
    target = kind.cls({extra: 0})
    sweep_atomic(src, lambda: target.update(src), name="update:source-cursor")
    check_consistent(target, {**expected, extra: 0})
    check_consistent(src, expected)


# --------------------------------------------------------------------------
# Queries: creation and every next()
# --------------------------------------------------------------------------


def query_table(kind):
    k = kind.k
    return {
        "iter": lambda m: iter(m),
        "reversed": lambda m: reversed(m),
        "keys": lambda m: iter(m.keys()),
        "values": lambda m: iter(m.values()),
        "items": lambda m: iter(m.items()),
        "reversed_items": lambda m: reversed(m.items()),
        "reversed_values": lambda m: reversed(m.values()),
        "prefix_iter": lambda m: m.prefix_iter(k("k")),
        "prefix_iter_reverse": lambda m: m.prefix_iter(k("pre"), reverse=True),
        "prefix_iter_empty_prefix": lambda m: m.prefix_iter(k("")),
        "prefix_iter_long": lambda m: m.prefix_iter(k("L" * 1000)),
        "prefixes": lambda m: m.prefixes(k("prefixes")),
        "range": lambda m: m.range(k("0100"), k("k3")),
        "range_reverse": lambda m: m.range(k("0100"), k("k3"), reverse=True),
        "range_exclusive": lambda m: m.range(k("0102"), k("n"), inclusive=(False, True)),
        "range_open": lambda m: m.range(stop=k("5")),
        "range_long_bounds": lambda m: m.range(k("L" * 1400), k("L" * 1600)),
        "fuzzy": lambda m: m.fuzzy_search(k("prefex"), 2),
        "fuzzy_non_ascii": lambda m: m.fuzzy_search(k("日本人"), 1),
        "fuzzy_huge_distance": lambda m: m.fuzzy_search(k("k1"), 10**100),
        "fuzzy_long_query": lambda m: m.fuzzy_search(k("L" * 1499), 1),
    }


QUERY_NAMES = sorted(query_table(KINDS[0]))


def check_partial(expected, out):
    """`out` must be a strictly increasing run of expected items (in
    iteration order) with nothing repeated."""
    positions = [expected.index(x) for x in out]
    assert positions == sorted(set(positions)), "items out of order or repeated"


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_query_sweep(kind, query):
    make = query_table(kind)[query]
    m = big_map(kind)
    before = list(m.items())
    expected = list(make(m))
    assert expected or query == "fuzzy_non_ascii"
    at_creation = at_next = 0
    for n in range(1, LIMIT):
        armed(m, n)
        out = []
        try:
            it = make(m)
        except MemoryError:
            disarm(m)
            at_creation += 1
            m._validate()
            assert list(m.items()) == before
            continue
        try:
            for x in it:
                out.append(x)
        except MemoryError:
            disarm(m)
            at_next += 1
            m._validate()
            assert list(m.items()) == before
            check_partial(expected, out)
            # The iterator may end; if it goes on, it stays in order.
            rest = list(it)
            check_partial(expected, out + rest)
            continue
        finally:
            disarm(m)
        assert out == expected
        break
    else:
        raise AssertionError(f"{query}: never succeeded")
    record(f"query:{query}", at_creation + at_next)
    if query.startswith("fuzzy"):
        assert at_creation > 0  # the search allocates its rows up front
    if query != "prefixes":
        # Every cursor needs buffers for its path and key.
        assert at_next > 0
    check_consistent(m)


@pytest.mark.parametrize(
    "query", ["iter", "reversed_items", "prefix_iter", "range_reverse", "fuzzy"]
)
def test_query_sweep_at_each_step_after_changes(kind, query):
    """The map changes between steps, so each next() re-seeks (and may
    need to grow its buffers): fail the allocations of one step at a time."""
    make = query_table(kind)[query]
    m = big_map(kind)
    expected = list(make(m))
    extra = kind.k("zz" + "x" * 600)  # a long key: re-seeking past it grows buffers
    failures = 0
    for step in range(0, len(expected), max(1, len(expected) // 12)):
        for n in range(1, LIMIT):
            it = make(m)
            got = [next(it) for _ in range(step)]
            m[extra] = 0  # a structural change: the next step re-seeks
            del m[extra]
            armed(m, n)
            try:
                x = next(it, None)
            except MemoryError:
                disarm(m)
                failures += 1
                check_consistent(m)
                continue
            finally:
                disarm(m)
            assert got == expected[:step]
            assert x == (expected[step] if step < len(expected) else None)
            break
    record(f"query-step:{query}", failures)
    check_consistent(m)


SCALAR_QUERIES = {
    "first": lambda m, k: m.first(),
    "last": lambda m, k: m.last(),
    "floor": lambda m, k: m.floor(k("k5!")),
    "ceiling": lambda m, k: m.ceiling(k("k5!")),
    "lower": lambda m, k: m.lower(k("prefix")),
    "higher": lambda m, k: m.higher(k("L" * 1500)),
    "get_prefix": lambda m, k: m.get_prefix(k("pre")),
    "longest_prefix": lambda m, k: m.longest_prefix(k("prefixes")),
    "getitem_get_contains": lambda m, k: (m[k("prefix")], m.get(k("nope")), k("é") in m),
    "len_stats_sizeof": lambda m, k: (len(m), m.stats()["leaves"], sys.getsizeof(m) > 0),
    "repr": lambda m, k: repr(m),
    "eq_dict": lambda m, k: m == dict(BIG_DICT[m.__class__]),
    "eq_map": lambda m, k: m == m.__class__(BIG_DICT[m.__class__]),
    "list": lambda m, k: list(m),
    "dict": lambda m, k: dict(m),
    "sorted_items": lambda m, k: sorted(m.items()),
    "keys_set_ops": lambda m, k: (m.keys() & {k("a")}, m.keys() - {k("a")}),
    "values_contains": lambda m, k: -1 in m.values(),
    "items_contains": lambda m, k: (k("pre"), -1) in m.items(),
}

BIG_DICT = {kind.cls: {kind.k(t): i for i, t in enumerate(BIG_TEXTS)} for kind in KINDS}


@pytest.mark.parametrize("query", sorted(SCALAR_QUERIES))
def test_scalar_query_sweep(kind, query):
    fn = SCALAR_QUERIES[query]
    m = big_map(kind)
    expected = fn(m, kind.k)
    no_alloc = query in (
        "longest_prefix",
        "getitem_get_contains",
        "len_stats_sizeof",
        "items_contains",
    )
    result = sweep_atomic(
        m, lambda: fn(m, kind.k), name=f"query:{query}", expect_failures=not no_alloc
    )
    assert result == expected
    check_consistent(m)


def test_repr_after_failure_is_not_recursive(kind):
    """A MemoryError inside repr must leave repr's recursion guard clean."""
    m = big_map(kind)
    expected = repr(m)
    armed(m, 1)
    try:
        with pytest.raises(MemoryError):
            repr(m)
    finally:
        disarm(m)
    assert repr(m) == expected
    assert "..." not in expected


def test_failure_in_one_map_spares_the_others(kind):
    m = big_map(kind)
    other = big_map(kind)
    armed(m, 1)
    try:
        assert list(other) == list(m.__class__(other))
        other[kind.k("new")] = 1
        c = other.copy()
        assert c == other
        with pytest.raises(MemoryError):
            m.copy()
    finally:
        disarm(m)
    check_consistent(m, BIG_DICT[kind.cls])
