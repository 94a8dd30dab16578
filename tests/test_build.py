"""Maps filled at once from a batch in key order.

The constructor, ``update`` of an empty map and ``fromkeys`` hand a dict,
or a list or tuple of pairs (of keys for ``fromkeys``), whose keys are
exactly str (TreeMap) or bytes (BytesTreeMap) and strictly ascending, to
the C tree's bottom-up builder; any other batch goes in one item at a time.
Either way the map is the one ``dict`` would hold, and the same tree.
"""

import blart._blart as _blart
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import KIND_IDS, KINDS, check_consistent

from blart import BytesTreeMap, TreeMap

# Keys that share prefixes and split inside UTF-8 characters, as in
# test_stateful.py.
ALPHABET = ["a", "b", "\x00", "é", "è", "日", "\U0001f600", "\U0001f601", "\ud800"]
texts = st.text(st.sampled_from(ALPHABET), max_size=6)
ORDERS = ["ascending", "shuffled", "repeats", "ascending but the last"]


def batch(kind, raw, order, rnd):
    """Pairs of kind's keys in the order asked for."""
    pairs = [(kind.k(t), v) for t, v in raw]
    if order == "ascending":
        pairs = sorted(dict(pairs).items())
    elif order == "shuffled":
        rnd.shuffle(pairs)
    elif order == "repeats":
        pairs = sorted(pairs, key=lambda p: p[0])  # equal keys stay in order
    else:
        pairs = sorted(dict(pairs).items())
        if len(pairs) >= 2:
            pairs.append(pairs[0])  # one key again at the end: last wins
    return pairs


def same_tree(a, b):
    """The same nodes, buckets and leaves: reserved pages and the room
    buckets keep to grow in may differ, the bytes in use may not."""
    sa, sb = a.stats(), b.stats()
    for s in (sa, sb):
        s["bytes"] -= s.pop("bucket_spare")
        del s["reserved"]
    return sa == sb


def one_by_one(cls, pairs):
    m = cls()
    for k, v in pairs:
        m[k] = v
    return m


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("order", ORDERS)
@given(raw=st.lists(st.tuples(texts, st.integers()), max_size=40), rnd=st.randoms())
def test_a_batch_makes_the_map_dict_would(kind, order, raw, rnd):
    pairs = batch(kind, raw, order, rnd)
    want = dict(pairs)
    slow = one_by_one(kind.cls, pairs)
    for source in (pairs, tuple(pairs), want):
        before = _blart._builds()
        m = kind.cls(source)
        check_consistent(m, want)
        assert dict(m.items()) == want
        assert all(m[k] is v for k, v in want.items())
        assert same_tree(m, slow)
        # Built at once exactly when the batch allows it.  A dict of
        # repeats is ascending once its keys are unique.
        ascending = (
            list(source) == sorted(set(source))
            if source is want
            else (all(a[0] < b[0] for a, b in zip(pairs, pairs[1:])))
        )
        assert _blart._builds() - before == (len(want) >= 2 and ascending)
        # update() of an empty map takes the same path; of a map with
        # keys, the slow one, with the same result.
        e = kind.cls()
        e.update(source)
        assert e == want and same_tree(e, slow)
        if want:
            first = next(iter(want))
            f = kind.cls({first: "old"})
            f.update(source)
            assert f == want
    keys = [k for k, _ in pairs]
    fk = kind.cls.fromkeys(keys, 0)
    check_consistent(fk, dict.fromkeys(keys, 0))
    assert same_tree(fk, one_by_one(kind.cls, [(k, 0) for k in keys]))


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_large_batch_in_order(kind):
    words = sorted({kind.k(f"{i * 7919 % 100003:05d}/{i % 37}") for i in range(30000)})
    pairs = [(w, i) for i, w in enumerate(words)]
    before = _blart._builds()
    m = kind.cls(pairs)
    assert _blart._builds() == before + 1
    check_consistent(m, dict(pairs))
    assert same_tree(m, one_by_one(kind.cls, pairs))
    # The built map is an ordinary one afterwards.
    for w, _ in pairs[::3]:
        del m[w]
    m[kind.k("0")] = -1
    check_consistent(m)
    assert len(m) == len(pairs) - len(pairs[::3]) + 1


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_batches_the_builder_does_not_take(kind):
    """Keys of another type or of a subclass, items that are not pairs,
    other iterables: each goes in item by item, with dict's errors."""

    class S(str):
        pass

    class B(bytes):
        pass

    sub = B(b"b") if kind.is_bytes else S("b")
    a, c = kind.k("a"), kind.k("c")
    before = _blart._builds()
    m = kind.cls([(a, 1), (sub, 2), (c, 3)])
    assert list(m) == [a, kind.k("b"), c] and type(next(iter(m.keys()))) is type(a)
    assert kind.cls(iter([(a, 1), (c, 2)])) == {a: 1, c: 2}
    assert kind.cls([(a, 1), [c, 2]]) == {a: 1, c: 2}
    assert _blart._builds() == before + 1  # the list pair is a pair
    with pytest.raises(TypeError):
        kind.cls([(a, 1), (kind.foreign_key if not kind.is_bytes else 5, 2)])
    with pytest.raises(ValueError, match="length 3"):
        kind.cls([(a, 1), (c, 2, 3)])
    # update() of an empty map applies the items before the bad one, as
    # dict.update does.
    e = kind.cls()
    with pytest.raises(ValueError):
        e.update([(a, 1), (c, 2), (kind.k("d"), 3, 4)])
    assert e == {a: 1, c: 2}


def test_fromkeys_of_a_subclass_calls_its_setitem():
    calls = []

    class Logged(TreeMap):
        def __setitem__(self, key, value):
            calls.append(key)
            super().__setitem__(key, value)

    class Plain(TreeMap):
        pass

    before = _blart._builds()
    m = Logged.fromkeys(["a", "b", "c"], 1)
    assert calls == ["a", "b", "c"] and type(m) is Logged and m == dict.fromkeys("abc", 1)
    assert _blart._builds() == before
    p = Plain.fromkeys(["a", "b", "c"])
    assert type(p) is Plain and p == dict.fromkeys("abc")
    assert _blart._builds() == before + 1


@pytest.mark.parametrize("cls", [TreeMap, BytesTreeMap])
def test_iterators_of_an_empty_map_see_the_build(cls):
    k = (lambda s: s) if cls is TreeMap else (lambda s: s.encode())
    m = cls()
    it, rit, items = iter(m), reversed(m), iter(m.items())
    m.update({k("a"): 1, k("b"): 2, k("c"): 3})
    m2 = cls()
    it2 = iter(m2)
    m2.update({k("b"): 2, k("a"): 1, k("c"): 3})  # one at a time
    assert list(it) == list(it2) == [k("a"), k("b"), k("c")]
    assert list(rit) == [k("c"), k("b"), k("a")]
    assert list(items) == [(k("a"), 1), (k("b"), 2), (k("c"), 3)]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_failed_build_leaves_the_map_empty(kind):
    import sys

    value = object()
    pairs = [(kind.k(f"key{i:04d}"), value) for i in range(300)]

    def refs():
        # Counted the same way wherever it is asked (CPython 3.14 borrows
        # some loads of a local, but never a closure's).
        return sys.getrefcount(value)

    base = refs()
    failures = 0
    for n in range(1, 10_000):
        m = kind.cls()
        m._fail_alloc(n)
        try:
            m.update(pairs)
        except MemoryError:
            failures += 1
            m._fail_alloc(0)
            assert len(m) == 0 and list(m) == [] and m._validate() is None
            assert refs() == base
            continue
        m._fail_alloc(0)
        check_consistent(m, dict(pairs))
        assert refs() == base + len(pairs)
        break
    else:
        raise AssertionError("the build never succeeded")
    assert failures >= 3
    del m
    assert refs() == base


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_map_copied_into_an_empty_one(kind):
    src = kind.new({"b": 1, "a": 2, "ab": 3})
    m = kind.cls(src)
    assert m == src and same_tree(m, src)
    e = kind.cls()
    e.update(src)
    e |= src
    assert e == src
