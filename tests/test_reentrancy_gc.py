"""Re-entrant mutation from __del__ and __eq__, garbage collection,
reference counts, and allocation failures injected into the C tree."""

import gc
import sys
import weakref

import pytest
from support import check_consistent


class OnDel:
    """Runs a callback when the object is released."""

    def __init__(self, callback):
        self.callback = callback

    def __del__(self):
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


# Enough to need a Node256; without the letters the base maps below use, so
# that the keys added next to "", "a" or "c" never overwrite base keys.
SIBLINGS = [chr(c) for c in range(0x21, 0x7F) if chr(c) not in "abcdez"]


def grow_and_shrink(kind, m, prefix):
    """Adds many keys next to `prefix`, then removes some: nodes are rebuilt."""
    for c in SIBLINGS:
        m[kind.k(prefix + c)] = c
    for c in SIBLINGS[::2]:
        del m[kind.k(prefix + c)]


def expected_after_grow(kind, prefix):
    return {kind.k(prefix + c): c for c in SIBLINGS[1::2]}


def base_map(kind):
    return kind.new({"a": 1, "b": 2, "c": 3, "ca": 4, "cb": 5, "d": 6})


# --------------------------------------------------------------------------
# __del__ of a released value mutates the map
# --------------------------------------------------------------------------


def test_del_on_replace_mutates_other_keys(kind):
    m = base_map(kind)

    def mutate():
        del m[kind.k("a")]
        m[kind.k("z")] = 26
        grow_and_shrink(kind, m, "c")

    m[kind.k("c")] = OnDel(mutate)
    m[kind.k("c")] = "new"
    expected = kind.d({"b": 2, "c": "new", "ca": 4, "cb": 5, "d": 6, "z": 26})
    expected.update(expected_after_grow(kind, "c"))
    check_consistent(m, expected)
    assert m == expected


def test_del_on_replace_deletes_the_same_key(kind):
    m = base_map(kind)
    m[kind.k("c")] = OnDel(lambda: m.__delitem__(kind.k("c")))
    m[kind.k("c")] = "new"
    check_consistent(m, kind.d({"a": 1, "b": 2, "ca": 4, "cb": 5, "d": 6}))


def test_del_on_replace_via_insert_and_update(kind):
    m = base_map(kind)
    m[kind.k("b")] = OnDel(lambda: m.__setitem__(kind.k("y"), 25))
    previous = m.insert(kind.k("b"), "inserted")
    assert isinstance(previous, OnDel)
    assert kind.k("y") not in m  # still referenced by `previous`
    del previous
    assert m[kind.k("y")] == 25
    m[kind.k("a")] = OnDel(lambda: m.__delitem__(kind.k("d")))
    m.update([(kind.k("a"), "updated"), (kind.k("e"), 7)])
    check_consistent(
        m,
        kind.d({"a": "updated", "b": "inserted", "c": 3, "ca": 4, "cb": 5, "e": 7, "y": 25}),
    )


def test_del_on_delitem(kind):
    m = base_map(kind)

    def mutate():
        m[kind.k("c")] = "back again"  # the key being deleted
        del m[kind.k("cb")]
        grow_and_shrink(kind, m, "")

    m[kind.k("c")] = OnDel(mutate)
    del m[kind.k("c")]
    expected = kind.d({"a": 1, "b": 2, "c": "back again", "ca": 4, "d": 6})
    expected.update(expected_after_grow(kind, ""))
    check_consistent(m, expected)


def test_del_on_pop_and_remove(kind):
    m = base_map(kind)
    m[kind.k("ca")] = OnDel(lambda: m.__setitem__(kind.k("ca"), "reborn"))
    m.pop(kind.k("ca"))
    assert m[kind.k("ca")] == "reborn"
    m[kind.k("cb")] = OnDel(lambda: m.clear())
    m.remove(kind.k("cb"))
    check_consistent(m, {})
    m.update(base_map(kind))
    m[kind.k("a")] = OnDel(lambda: grow_and_shrink(kind, m, "a"))
    assert m.pop(kind.k("a"), None) is not None
    expected = kind.d({"b": 2, "c": 3, "ca": 4, "cb": 5, "d": 6})
    expected.update(expected_after_grow(kind, "a"))
    check_consistent(m, expected)


def test_del_on_popitem(kind):
    m = base_map(kind)

    def mutate():
        m[kind.k("zz")] = "larger"
        del m[kind.k("a")]

    m[kind.k("d")] = OnDel(mutate)
    key, value = m.popitem()
    assert key == kind.k("d")
    del value
    check_consistent(m, kind.d({"b": 2, "c": 3, "ca": 4, "cb": 5, "zz": "larger"}))
    m[kind.k("zz")] = OnDel(lambda: m.clear())
    m.popitem()
    check_consistent(m, {})


def test_del_during_update_from_a_map_mutates_the_source(kind):
    """update() from a map of the same type walks the source while values
    released in the target run code that changes the source."""
    source = kind.cls({kind.k(c): c.upper() for c in "abcdefghij"})
    target = kind.cls()

    def mutate():
        del source[kind.k("h")]  # not reached yet: must not be copied
        source[kind.k("hh")] = "HH"  # ahead of the walk: copied
        source[kind.k("a")] = "changed"  # behind the walk: not copied
        grow_and_shrink(kind, source, "i")

    target[kind.k("c")] = OnDel(mutate)
    target.update(source)
    check_consistent(source)
    check_consistent(target)
    expected = {kind.k(c): c.upper() for c in "abcdefgij"}
    expected[kind.k("hh")] = "HH"
    expected.update({key: value for key, value in source.items() if key > kind.k("c")})
    assert dict(target.items()) == expected


def test_del_on_clear_inserts(kind):
    m = kind.cls()
    for i in range(50):
        name = f"v{i:02d}"
        m[kind.k(name)] = OnDel(lambda name=name: m.__setitem__(kind.k("after-" + name), name))
    m.clear()
    check_consistent(m, {kind.k(f"after-v{i:02d}"): f"v{i:02d}" for i in range(50)})


def test_del_on_clear_clears_and_reads(kind):
    m = kind.cls()
    seen = []

    def hook(i):
        seen.append(list(m.items()))  # reads while clear() is running
        if i % 3 == 0:
            m.clear()
        elif i % 3 == 1:
            m[kind.k(f"n{i}")] = i
        else:
            grow_and_shrink(kind, m, f"g{i}")

    for i in range(30):
        m[kind.k(f"k{i:02d}")] = OnDel(lambda i=i: hook(i))
    m.clear()
    assert len(seen) == 30
    check_consistent(m)
    for key in m:
        assert not key.startswith(kind.k("k"))


def test_del_on_map_deallocation(kind):
    m = base_map(kind)
    ref = weakref.ref(m)
    log = []

    def hook():
        target = ref()
        log.append(target)
        if target is not None:
            target[kind.k("late")] = 1

    for i in range(20):
        m[kind.k(f"h{i}")] = OnDel(hook)
    del m
    assert ref() is None
    assert log == [None] * 20


def test_eq_of_a_value_mutates_the_map(kind):
    m = base_map(kind)

    class Meddler:
        def __eq__(self, other):
            m.clear()
            grow_and_shrink(kind, m, "q")
            return True

        __hash__ = None

    m[kind.k("b")] = Meddler()
    # Membership tests compare values with ==.
    assert ((kind.k("b"), 2) in m.items()) in (True, False)
    check_consistent(m)
    m.update(base_map(kind))
    m[kind.k("b")] = Meddler()
    assert (2 in m.values()) in (True, False)
    check_consistent(m)
    m.update(base_map(kind))
    m[kind.k("b")] = Meddler()
    other = dict(base_map(kind))
    try:
        result = m == other
    except RuntimeError:
        pass  # reporting the mutation is acceptable; crashing is not
    else:
        assert result in (True, False)
    check_consistent(m)


# --------------------------------------------------------------------------
# Garbage collection
# --------------------------------------------------------------------------


def _collected(make):
    gc.collect()
    gc.disable()
    try:
        ref = make()
        gc.collect()
        return ref() is None
    finally:
        gc.enable()


def test_self_containing_map_is_collected(kind):
    def make():
        m = kind.new({"a": 1})
        m[kind.k("self")] = m
        return weakref.ref(m)

    assert _collected(make)


def test_cycle_through_a_value_is_collected(kind):
    def make():
        m = kind.new({"a": 1})
        m[kind.k("x")] = [m]
        return weakref.ref(m)

    assert _collected(make)


def test_cycle_between_two_maps_is_collected(kind):
    def make():
        m1, m2 = kind.cls(), kind.cls()
        m1[kind.k("other")] = m2
        m2[kind.k("other")] = {"back": m1}
        return weakref.ref(m1)

    assert _collected(make)


def test_cycle_through_a_view_is_collected(kind):
    def make():
        m = kind.new({"a": 1})
        m[kind.k("view")] = m.items()
        return weakref.ref(m)

    assert _collected(make)


def test_cycle_through_an_iterator_is_collected(kind):
    def make():
        m = kind.new({"a": 1})
        m[kind.k("iter")] = iter(m.values())
        return weakref.ref(m)

    assert _collected(make)


def test_cycle_is_really_a_cycle(kind):
    """Sanity check of the helper: without the collector the map stays."""
    gc.collect()
    gc.disable()
    try:
        m = kind.cls()
        m[kind.k("self")] = m
        ref = weakref.ref(m)
        del m
        assert ref() is not None
        gc.collect()
        assert ref() is None
    finally:
        gc.enable()


def test_collected_values_are_released(kind):
    released = []
    gc.collect()
    gc.disable()
    try:
        m = kind.cls()
        m[kind.k("self")] = m
        m[kind.k("hook")] = OnDel(lambda: released.append(True))
        del m
        assert released == []
        gc.collect()
        assert released == [True]
    finally:
        gc.enable()


# --------------------------------------------------------------------------
# Reference counts
# --------------------------------------------------------------------------


class Value:
    pass


def test_refcounts_balance(kind):
    v, w = Value(), Value()
    base_v, base_w = sys.getrefcount(v), sys.getrefcount(w)
    a, b = kind.k("a"), kind.k("b")

    m = kind.cls()
    m[a] = v
    assert sys.getrefcount(v) == base_v + 1
    m[a] = w  # replace
    assert sys.getrefcount(v) == base_v
    assert sys.getrefcount(w) == base_w + 1
    del m[a]
    assert sys.getrefcount(w) == base_w

    m[a] = v
    m.pop(a)
    assert sys.getrefcount(v) == base_v
    m[a] = v
    assert m.pop(b, w) is w
    assert sys.getrefcount(w) == base_w
    m.remove(a)
    assert sys.getrefcount(v) == base_v

    assert m.insert(a, v) is None
    assert m.insert(a, w) is v
    assert sys.getrefcount(v) == base_v
    m.popitem()
    assert sys.getrefcount(w) == base_w

    m.setdefault(a, v)
    m.setdefault(a, w)
    assert sys.getrefcount(w) == base_w
    assert m.get(a) is v and m.get(b, w) is w and m[a] is v
    assert sys.getrefcount(v) == base_v + 1
    m.clear()
    assert sys.getrefcount(v) == base_v

    m.update([(a, v), (b, v)])
    m.update({a: w})
    assert sys.getrefcount(v) == base_v + 1
    list(m.items()), list(m.values()), list(reversed(m.items()))
    assert v in m.values() and (b, v) in m.items()
    assert sys.getrefcount(v) == base_v + 1
    c = m.copy()
    assert sys.getrefcount(v) == base_v + 2
    del c
    r = m | {a: v}
    assert sys.getrefcount(v) == base_v + 3
    del r
    f = kind.cls.fromkeys([a, b], v)
    assert sys.getrefcount(v) == base_v + 3
    del f
    assert sys.getrefcount(v) == base_v + 1
    del m  # deallocation of a non-empty map
    assert sys.getrefcount(v) == base_v
    assert sys.getrefcount(w) == base_w


def test_refcounts_after_failed_operations(kind):
    v = Value()
    base = sys.getrefcount(v)
    m = kind.new({"a": 1})
    with pytest.raises(TypeError):
        m[5] = v
    with pytest.raises(TypeError):
        m.insert(kind.foreign_key, v)
    with pytest.raises(TypeError):
        m.setdefault(None, v)
    with pytest.raises(KeyError):
        m.pop(kind.k("zz"))
    assert m.pop(kind.k("zz"), v) is v
    with pytest.raises(ValueError):
        m.update([(kind.k("b"), v), (kind.k("c"), v, v)])
    assert sys.getrefcount(v) == base + 1  # "b" was applied
    del m
    assert sys.getrefcount(v) == base


def test_key_objects_are_not_retained(kind):
    key = kind.k("some-key-" + "x" * 50)
    base = sys.getrefcount(key)
    m = kind.cls()
    m[key] = 1
    m.get(key)
    key in m
    m.setdefault(key, 2)
    m.insert(key, 3)
    list(m)
    del m[key]
    m[key] = 4
    m.pop(key)
    assert sys.getrefcount(key) == base


# --------------------------------------------------------------------------
# Allocation failures
# --------------------------------------------------------------------------


def snapshot(m):
    return list(m.items())


def sweep(m, operation, limit=10_000):
    """Calls operation() with the n-th allocation failing, n = 1, 2, ...

    After each MemoryError the map must be exactly as before.  Returns the
    operation's result and the number of failures seen.
    """
    failures = 0
    try:
        for n in range(1, limit):
            before = snapshot(m)
            m._fail_alloc(n)
            try:
                result = operation()
            except MemoryError:
                failures += 1
                assert snapshot(m) == before, f"changed by a failed operation (n={n})"
                check_consistent(m)
                continue
            return result, failures
        raise AssertionError("the operation never succeeded")
    finally:
        m._fail_alloc(0)


def test_fail_alloc_fails_once(kind):
    m = kind.cls()
    m._fail_alloc(1)
    with pytest.raises(MemoryError):
        m[kind.k("a")] = 1
    assert len(m) == 0
    check_consistent(m)
    m[kind.k("a")] = 1  # the failure was used up
    m[kind.k("b")] = 2
    assert list(m) == kind.ks(["a", "b"])
    m._fail_alloc(1)
    m._fail_alloc(0)  # cancelled
    m[kind.k("c")] = 3
    check_consistent(m, kind.d({"a": 1, "b": 2, "c": 3}))


SHAPES = {
    "empty": [],
    "one": ["abc"],
    "node4_full": ["a", "b", "c", "d"],
    "node16_full": [chr(ord("a") + i) for i in range(16)],
    "node48_full": [chr(0x30 + i) for i in range(48)],
    "prefixes": ["pre", "prefix", "prefixes", "prefab"],
    "long_prefix": ["x" * 40 + "a", "x" * 40 + "b"],
}
NEW_KEYS = [
    "",
    "e",
    "zz",
    "prefi",
    "pref\x00",
    "x" * 20,
    "x" * 40,
    "x" * 41 + "c",
    "abcd",
    "ab",
    "\U0001f600",
    "0",
]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fail_alloc_on_setitem_of_new_keys(kind, shape):
    total_failures = 0
    for text in NEW_KEYS:
        m = kind.cls({kind.k(t): t for t in SHAPES[shape]})
        if kind.k(text) in m:
            continue
        value = Value()
        base = sys.getrefcount(value)
        _, failures = sweep(m, lambda: m.__setitem__(kind.k(text), value))
        total_failures += failures
        assert sys.getrefcount(value) == base + 1  # nothing leaked on failure
        expected = {kind.k(t): t for t in SHAPES[shape]}
        expected[kind.k(text)] = value
        check_consistent(m, expected)
        if shape == "empty":
            assert failures >= 1  # the first key needs memory
    assert total_failures > 0


def test_fail_alloc_on_delitem(kind):
    texts = set(
        [chr(0x21 + i) for i in range(90)]
        + ["k" + chr(0x21 + i) for i in range(60)]
        + ["k", "kk", "kkk", "kkkk", "kkkka", "kkkkb", "p" * 30, "p" * 30 + "q", "p" * 31]
    )
    m = kind.cls({kind.k(t): t for t in texts})
    expected = {kind.k(t): t for t in texts}
    order = sorted(texts, key=lambda t: (len(t) % 3, t[::-1]))
    total_failures = 0
    for t in order:
        _, failures = sweep(m, lambda: m.__delitem__(kind.k(t)))
        total_failures += failures
        del expected[kind.k(t)]
        assert kind.k(t) not in m
        check_consistent(m, expected)
    assert m.is_empty()
    # Shrinking nodes and merging paths need new nodes: some deletes failed.
    assert total_failures > 0


def test_fail_alloc_on_copy(kind):
    texts = [f"{i:03d}" for i in range(0, 300, 7)] + ["", "a", "ab", "abc", "é", "日本"]
    m = kind.cls({kind.k(t): t for t in texts})
    expected = {kind.k(t): t for t in texts}
    c, failures = sweep(m, m.copy)
    assert failures >= 1
    assert type(c) is kind.cls
    assert c == expected
    check_consistent(c, expected)
    check_consistent(m, expected)
    c[kind.k("zzz")] = 1
    assert kind.k("zzz") not in m


def test_fail_alloc_does_not_leak_into_other_maps(kind):
    m = kind.new({"a": 1})
    other = kind.new({"b": 2})
    m._fail_alloc(1)
    try:
        for i in range(50):
            other[kind.k(f"o{i}")] = i
        check_consistent(other)
        with pytest.raises(MemoryError):
            m[kind.k("new")] = 1
    finally:
        m._fail_alloc(0)
    check_consistent(m, kind.d({"a": 1}))


def _fresh_map(kind):
    texts = [chr(0x21 + i) for i in range(70)] + ["k" + chr(0x21 + i) for i in range(20)]
    texts += ["kk", "kkk", "long" * 10, "long" * 10 + "er"]
    return kind.cls({kind.k(t): t for t in texts})


WRITES = {
    # name: (operation(m, k), key text, expected result, whether the key stays)
    "insert_new": (lambda m, k: m.insert(k, "new"), "kx\x00", None, True),
    "setdefault_new": (lambda m, k: m.setdefault(k, "new"), "long" * 9, "new", True),
    "update_new": (lambda m, k: m.update([(k, "new")]), "k" + "é", None, True),
    "pop": (lambda m, k: m.pop(k), "k%", "k%", False),
    "pop_default": (lambda m, k: m.pop(k, "d"), "kk", "kk", False),
    "remove": (lambda m, k: m.remove(k), "long" * 10, "long" * 10, False),
    "popitem": (lambda m, k: m.popitem(), "zz sentinel", None, True),
    "or": (lambda m, k: dict((m | {k: "new"}).items()), "zz", None, False),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_fail_alloc_on_other_writes(kind, name):
    operation, text, want, stays = WRITES[name]
    key = kind.k(text)
    total_failures = 0
    # The same operation on maps of several shapes: the fresh map, and the
    # fresh map after shrinking, so that nodes of every size are involved.
    for trim in (0, 40, 65):
        m = _fresh_map(kind)
        for t in sorted(m)[:trim]:
            del m[t]
        if name == "popitem":
            m[key] = "sentinel"  # the largest key
        expected = dict(m.items())
        result, failures = sweep(m, lambda: operation(m, key))
        total_failures += failures
        if name == "popitem":
            assert result == (key, "sentinel")
            del expected[key]
        elif name == "or":
            assert result == expected | {key: "new"}
        elif stays:
            expected[key] = "new"
            assert result == want
        else:
            assert result == want
            del expected[key]
        check_consistent(m, expected)
        assert (key in m) == (key in expected)
    if name not in ("pop_default", "pop", "remove"):
        assert total_failures > 0
