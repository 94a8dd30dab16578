"""Adversarial Python code around the maps.

Values whose ``__del__``, ``__eq__`` or ``__repr__`` raise or change the
map while the map is working; keys that are str/bytes subclasses with odd
``__eq__``/``__hash__``; iterators and views used after their map was
cleared, emptied or dropped; ``update`` from mappings that change the
target; a ``__del__`` that steps the very iterator that is running.

What is required everywhere: no crash, the tree stays valid
(``_validate()``), the operation's own promise holds (the key set or the
value it returns), errors raised by user code propagate unchanged (or,
from ``__del__``, reach ``sys.unraisablehook``), and iterators keep their
weak-consistency rule: strictly increasing keys, never a repeat, never a
skip of a key present throughout.
"""

import contextlib
import gc
import pickle
import subprocess
import sys
import textwrap
import weakref

import pytest
from support import check_consistent

from blart import BytesTreeMap


class Boom(Exception):
    pass


@contextlib.contextmanager
def unraisable():
    """Collects what sys.unraisablehook would print (exceptions from
    __del__ and weakref callbacks)."""
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda info: seen.append(info.exc_type)
    try:
        yield seen
    finally:
        sys.unraisablehook = old


class OnDel:
    """Calls `action` once, when released."""

    def __init__(self, action, tag=None):
        self.action = action
        self.tag = tag

    def __del__(self):
        action, self.action = self.action, None
        if action is not None:
            action()


class RaiseOnDel:
    released = 0

    def __del__(self):
        RaiseOnDel.released += 1
        raise Boom("from __del__")


def base(kind, n=30):
    return kind.cls({kind.k(f"k{i:02d}"): i for i in range(n)})


def keys_of(kind, texts):
    return [kind.k(t) for t in texts]


def assert_run(keys):
    """A weakly consistent run is strictly increasing: no repeats."""
    assert all(a < b for a, b in zip(keys, keys[1:])), keys


# --------------------------------------------------------------------------
# __del__ that raises: reported, never propagated, the operation completes
# --------------------------------------------------------------------------

RELEASING_OPS = {
    "setitem_replace": lambda m, k: m.__setitem__(k("k05"), "new"),
    "update_replace_dict": lambda m, k: m.update({k("k05"): "new"}),
    "update_replace_pairs": lambda m, k: m.update([(k("k05"), "new")]),
    "update_replace_map": lambda m, k: m.update(m.__class__({k("k05"): "new"})),
    "ior_replace": lambda m, k: m.__ior__({k("k05"): "new"}),
    "delitem": lambda m, k: m.__delitem__(k("k05")),
    "pop": lambda m, k: m.pop(k("k05")),
    "remove": lambda m, k: m.remove(k("k05")),
    "popitem": lambda m, k: m.popitem(),
    "pop_first": lambda m, k: m.pop_first(),
    "pop_last": lambda m, k: m.pop_last(),
    "clear": lambda m, k: m.clear(),
}

# The key whose value each operation releases (None: all).
RELEASED_KEY = {"popitem": "k29", "pop_last": "k29", "pop_first": "k00", "clear": None}


def expected_after(kind, name, n=30):
    exp = {kind.k(f"k{i:02d}"): i for i in range(n)}
    key = RELEASED_KEY.get(name, "k05")
    if name == "clear":
        return {}
    if "replace" in name:
        exp[kind.k(key)] = "new"
    else:
        del exp[kind.k(key)]
    return exp


@pytest.mark.parametrize("name", sorted(RELEASING_OPS))
def test_raising_del_during_operation(kind, name):
    m = base(kind)
    key = RELEASED_KEY.get(name, "k05")
    targets = [kind.k(f"k{i:02d}") for i in range(30)] if key is None else [kind.k(key)]
    for t in targets:
        m[t] = RaiseOnDel()
    RaiseOnDel.released = 0
    with unraisable() as seen:
        result = RELEASING_OPS[name](m, kind.k)
        del result  # pop and friends return the value: release it here
        gc.collect()
    assert RaiseOnDel.released == len(targets)
    assert seen == [Boom] * len(targets)
    check_consistent(m, expected_after(kind, name))


def test_raising_del_during_deallocation(kind):
    m = base(kind)
    for i in range(0, 30, 3):
        m[kind.k(f"k{i:02d}")] = RaiseOnDel()
    ref = weakref.ref(m)
    RaiseOnDel.released = 0
    with unraisable() as seen:
        del m
    assert ref() is None
    assert RaiseOnDel.released == 10
    assert seen == [Boom] * 10


def test_raising_del_during_gc_of_a_cycle(kind):
    gc.collect()
    with unraisable() as seen:
        m = base(kind)
        m[kind.k("self")] = m
        m[kind.k("bad")] = RaiseOnDel()
        RaiseOnDel.released = 0
        ref = weakref.ref(m)
        del m
        gc.collect()
    assert ref() is None
    assert RaiseOnDel.released == 1
    assert seen == [Boom]


# --------------------------------------------------------------------------
# __del__ that mutates the map during every releasing operation
# --------------------------------------------------------------------------


def mutator(kind, m, log):
    """Deletes a neighbour, adds a key, grows a node and shrinks it again:
    every kind of structural change, from inside the operation."""

    def act():
        log.append(len(m))
        m.pop(kind.k("k06"), None)
        m[kind.k("k05x")] = "added"
        for i in range(60):
            m[kind.k(f"g{i:02d}")] = i
        for i in range(60):
            del m[kind.k(f"g{i:02d}")]
        m._validate()

    return act


@pytest.mark.parametrize("name", sorted(RELEASING_OPS))
def test_mutating_del_during_operation(kind, name):
    m = base(kind)
    key = RELEASED_KEY.get(name, "k05")
    log = []
    if key is None:  # clear: every value mutates the map being cleared
        for i in range(30):
            m[kind.k(f"k{i:02d}")] = OnDel(mutator(kind, m, log))
    else:
        m[kind.k(key)] = OnDel(mutator(kind, m, log))
    result = RELEASING_OPS[name](m, kind.k)
    del result
    gc.collect()
    assert log, "the value was not released"
    expected = expected_after(kind, name)
    expected.pop(kind.k("k06"), None)
    expected[kind.k("k05x")] = "added"
    if name == "clear":
        # The tree was detached before the values were released: what the
        # callbacks added is all that is left.
        expected = {kind.k("k05x"): "added"}
        assert log[0] == 0
    check_consistent(m, expected)


def test_del_mutating_during_fromkeys_and_ior(kind):
    m = base(kind)
    log = []
    m[kind.k("k05")] = OnDel(mutator(kind, m, log))
    m |= [(kind.k("k05"), "new"), (kind.k("k07"), "new7")]
    expected = expected_after(kind, "setitem_replace")
    expected.pop(kind.k("k06"))
    expected[kind.k("k05x")] = "added"
    expected[kind.k("k07")] = "new7"
    check_consistent(m, expected)
    assert log == [30]


def test_mutating_del_during_deallocation(kind):
    """The dying map cannot be reached any more; its values' __del__ change
    another map and look for the dying one through a weak reference."""
    other = base(kind)
    m = base(kind)
    ref = weakref.ref(m)
    seen = []

    def act(i):
        seen.append(ref())
        other.pop(kind.k(f"k{i:02d}"))
        other[kind.k(f"n{i:02d}")] = i
        for j in range(40):
            other[kind.k(f"g{i:02d}{j:02d}")] = j
        for j in range(40):
            del other[kind.k(f"g{i:02d}{j:02d}")]

    for i in range(0, 30, 2):
        m[kind.k(f"k{i:02d}")] = OnDel(lambda i=i: act(i))
    del m
    assert ref() is None and seen == [None] * 15
    expected = {kind.k(f"k{i:02d}"): i for i in range(1, 30, 2)}
    expected.update({kind.k(f"n{i:02d}"): i for i in range(0, 30, 2)})
    check_consistent(other, expected)


def test_del_drops_the_last_reference_to_the_map(kind):
    """A value's __del__ drops the only other reference to the map while a
    method of that map runs."""
    holder = [base(kind)]
    m_ref = weakref.ref(holder[0])
    holder[0][kind.k("k05")] = OnDel(holder.clear)
    holder[0].clear()
    assert holder == []
    assert m_ref() is None

    holder = [base(kind)]
    holder[0][kind.k("k05")] = OnDel(holder.clear)
    holder[0][kind.k("k05")] = "replaced"
    assert holder == []


def test_weakref_callback_on_value_mutates_map(kind):
    m = base(kind)

    class Target:
        pass

    targets = [Target() for _ in range(10)]
    for i, t in enumerate(targets):
        m[kind.k(f"w{i}")] = t
    refs = [
        weakref.ref(t, lambda r, i=i: m.pop(kind.k(f"w{(i + 1) % 10}"), None))
        for i, t in enumerate(targets)
    ]
    del targets, t
    for i in range(0, 10, 2):
        m.pop(kind.k(f"w{i}"), None)
    check_consistent(m)
    assert all(not key.startswith(kind.k("w")) for key in m)
    assert all(r() is None for r in refs)


# --------------------------------------------------------------------------
# __eq__ that raises or mutates during ==, `in values()`, `in items()`
# --------------------------------------------------------------------------


class EqRaises:
    __hash__ = None

    def __eq__(self, other):
        raise Boom("__eq__")


def test_eq_raising_propagates(kind):
    m = base(kind)
    m[kind.k("k10")] = EqRaises()
    before = list(m.items())
    d = dict(m)
    d[kind.k("k10")] = 0
    for other in (d, kind.cls(d)):
        with pytest.raises(Boom):
            m == other
        with pytest.raises(Boom):
            m != other
    with pytest.raises(Boom):
        -1 in m.values()
    with pytest.raises(Boom):
        (kind.k("k10"), 0) in m.items()
    assert list(m.items()) == before
    check_consistent(m)


class EqMutates:
    """Compares equal after mutating `m` (and optionally `other`)."""

    __hash__ = None

    def __init__(self, action):
        self.action = action

    def __eq__(self, other):
        self.action()
        return True


@pytest.mark.parametrize("what", ["clear", "delete_ahead", "delete_behind", "grow", "clear_other"])
@pytest.mark.parametrize("other_kind", ["dict", "map"])
def test_eq_mutating_during_comparison(kind, what, other_kind):
    m = base(kind)
    other = (dict if other_kind == "dict" else kind.cls)(m)

    def act():
        if what == "clear":
            m.clear()
        elif what == "delete_ahead":
            for i in range(11, 30):
                m.pop(kind.k(f"k{i:02d}"), None)
        elif what == "delete_behind":
            for i in range(0, 10):
                m.pop(kind.k(f"k{i:02d}"), None)
        elif what == "grow":
            for i in range(100):
                m[kind.k(f"k10-{i:03d}")] = i
        else:
            other.clear()

    m[kind.k("k10")] = EqMutates(act)
    result = m == other
    assert result in (True, False)
    check_consistent(m)
    if isinstance(other, kind.cls):
        check_consistent(other)


def test_eq_value_deleting_itself_with_mutating_del(kind):
    """__eq__ deletes its own key: the map's reference goes while == holds
    one; when == lets go, __del__ clears the map."""
    m = base(kind)
    log = []

    class Both:
        __hash__ = None

        def __eq__(self, other):
            del m[kind.k("k10")]
            return True

        def __del__(self):
            log.append("del")
            m.clear()

    m[kind.k("k10")] = Both()
    other = dict(m)
    other[kind.k("k10")] = 0
    assert (m == other) in (True, False)
    gc.collect()
    assert log == ["del"]
    check_consistent(m, {})


def test_values_contains_with_mutating_eq(kind):
    m = base(kind)
    for i in range(0, 30, 5):
        m[kind.k(f"k{i:02d}")] = EqMutates(lambda: m.pop(m.last()[0]) if m else None)
    assert (object() in m.values()) is True
    check_consistent(m)


# --------------------------------------------------------------------------
# __repr__ that raises or mutates
# --------------------------------------------------------------------------


class ReprRaises:
    def __repr__(self):
        raise Boom("__repr__")


def test_repr_raising_propagates_and_repr_recovers(kind):
    m = base(kind)
    m[kind.k("k10")] = ReprRaises()
    for target in (m, m.items(), m.values()):
        with pytest.raises(Boom):
            repr(target)
    del m[kind.k("k10")]
    # The recursion guard was released: a full repr, not "...".
    text = repr(m)
    assert text.startswith(f"{kind.name}({{") and "..." not in text
    assert eval(text, {kind.name: kind.cls}) == m
    assert repr(m.keys()).startswith("TreeMapKeys([")


class ReprMutates:
    def __init__(self, action):
        self.action = action

    def __repr__(self):
        self.action()
        return "RM"


@pytest.mark.parametrize(
    "what",
    [
        "clear",
        "delete_next",
        "insert_ahead",
        "insert_behind",
        "reinsert_self",
        "grow_shrink",
        "delete_self",
    ],
)
def test_repr_mutating(kind, what):
    m = base(kind)
    stable = [kind.k(f"k{i:02d}") for i in range(0, 10)]

    def act():
        if what == "clear":
            m.clear()
        elif what == "delete_next":
            m.pop(kind.k("k11"), None)
        elif what == "insert_ahead":
            m[kind.k("k10a")] = "ahead"
        elif what == "insert_behind":
            m[kind.k("k00a")] = "behind"
        elif what == "reinsert_self":
            v = m.pop(kind.k("k10"))
            m[kind.k("k10")] = v
        elif what == "delete_self":
            # repr holds the last reference now; when it lets go, the
            # value's __del__ clears the map in the middle of repr.
            del m[kind.k("k10")]
        else:
            for i in range(80):
                m[kind.k(f"k10{i:03d}")] = i
            for i in range(80):
                del m[kind.k(f"k10{i:03d}")]

    value = ReprMutates(act)
    if what == "delete_self":
        value.__class__ = type(
            "ReprMutatesDel", (ReprMutates,), {"__del__": lambda self: m.clear()}
        )
    m[kind.k("k10")] = value
    del value
    text = repr(m)
    assert text.startswith(f"{kind.name}({{") and text.endswith("})")
    # Keys before the mutating value were there throughout.
    positions = [text.index(repr(k) + ":") for k in stable]
    assert positions == sorted(positions)
    assert "RM" in text
    if what == "insert_ahead":
        assert repr(kind.k("k10a")) in text
    if what in ("delete_next", "clear"):
        assert repr(kind.k("k11")) + ":" not in text
    if what == "delete_self":
        # The iterator behind repr keeps its last (key, value) pair and
        # reuses it, as dict's items iterator does: the value is released
        # in the next step, once that step has chosen "k11".  Nothing after
        # it is read from the emptied map.
        assert repr(kind.k("k12")) + ":" not in text
        assert len(m) == 0
    if what == "insert_behind":
        assert repr(kind.k("k00a")) not in text  # behind the iteration
    check_consistent(m)


def test_repr_of_map_inside_itself_and_its_views(kind):
    m = kind.new({"a": 1})
    m[kind.k("self")] = m
    m[kind.k("keys")] = m.keys()
    m[kind.k("items")] = m.items()
    text = repr(m)
    assert "..." in text
    assert repr(m.items()).count("...") >= 1
    m.clear()
    assert repr(m) == f"{kind.name}()"


# --------------------------------------------------------------------------
# Key subclasses with odd __eq__ / __hash__
# --------------------------------------------------------------------------


class OddStr(str):
    calls = 0

    def __eq__(self, other):
        OddStr.calls += 1
        return False

    def __ne__(self, other):
        OddStr.calls += 1
        return True

    def __hash__(self):
        OddStr.calls += 1
        raise Boom("hash")

    def __lt__(self, other):
        OddStr.calls += 1
        raise Boom("lt")

    def __str__(self):
        return "not-me"

    def encode(self, *args, **kwargs):
        raise Boom("encode")


class OddBytes(bytes):
    calls = 0

    def __eq__(self, other):
        OddBytes.calls += 1
        return False

    def __hash__(self):
        OddBytes.calls += 1
        raise Boom("hash")

    def __lt__(self, other):
        OddBytes.calls += 1
        raise Boom("lt")

    def __bytes__(self):
        return b"not-me"


class OddByteArray(bytearray):
    def __eq__(self, other):
        return False

    __hash__ = None


def odd_key(kind, text):
    if kind.is_bytes:
        return OddBytes(kind.k(text))
    return OddStr(text)


def test_subclass_keys_are_stored_as_plain_keys(kind):
    plain = keys_of(kind, ["a", "ab", "abc", "b", "é", "日本", ""])
    m = kind.cls()
    for i, p in enumerate(plain):
        m[odd_key(kind, kind_text(kind, p))] = i
    m.update([(odd_key(kind, "zz"), "u")])
    m.setdefault(odd_key(kind, "zy"), "s")
    m.insert(odd_key(kind, "zx"), "i")
    m |= [(odd_key(kind, "zw"), "o")]
    m2 = kind.cls.fromkeys([odd_key(kind, "f1"), odd_key(kind, "f2")], 0)
    plain_type = bytes if kind.is_bytes else str
    all_keys = list(m) + list(m2)
    assert all(type(key) is plain_type for key in all_keys)
    assert sorted(m) == list(m)
    for i, p in enumerate(plain):
        assert m[p] == i  # plain equal keys find them
        assert m[odd_key(kind, kind_text(kind, p))] == i  # and so do the odd ones
        assert p in m and odd_key(kind, kind_text(kind, p)) in m.keys()
    k = kind.k
    results = [
        m.first(),
        m.last(),
        m.floor(k("ab")),
        m.ceiling(k("ab!")),
        m.lower(k("b")),
        m.higher(odd_key(kind, "a")),
        m.get_prefix(odd_key(kind, "ab")),
        m.longest_prefix(odd_key(kind, "abcd")),
        m.pop_first(),
        m.pop_last(),
        m.popitem(),
    ]
    results += list(m.items()) + list(m.prefix_iter(odd_key(kind, "a")))
    results += list(m.range(odd_key(kind, "a"), odd_key(kind, "b"), inclusive=(True, True)))
    results += list(m.prefixes(odd_key(kind, "abc")))
    results += [r[:2] for r in m.fuzzy_search(odd_key(kind, "ac"), 1)]
    for item in results:
        assert type(item[0]) is plain_type, item
    back = pickle.loads(pickle.dumps(m))
    assert all(type(key) is plain_type for key in back) and back == m
    assert all(type(key) is plain_type for key in m.copy())
    check_consistent(m)
    # The odd methods were never needed: keys are read as raw text/bytes.
    assert (OddBytes if kind.is_bytes else OddStr).calls == 0


def kind_text(kind, key):
    return key.decode("utf-8", "surrogatepass") if kind.is_bytes else key


def test_subclass_keys_in_errors_and_equality(kind):
    m = kind.new({"a": 1})
    missing = odd_key(kind, "missing")
    with pytest.raises(KeyError) as info:
        m[missing]
    assert info.value.args[0] is missing
    # Equality with a dict holding plain keys.
    assert m == {kind.k("a"): 1}
    # A str subclass holding the same text is the same key.
    m[odd_key(kind, "a")] = 2
    assert len(m) == 1 and m[kind.k("a")] == 2
    del m[odd_key(kind, "a")]
    assert len(m) == 0


def test_bytes_like_keys_are_copied():
    m = BytesTreeMap()
    ba = OddByteArray(b"key")
    m[ba] = 1
    ba[:] = b"changed"
    view_src = bytearray(b"0123456789")
    m[memoryview(view_src)[2:5]] = 2
    view_src[:] = b"xxxxxxxxxx"
    assert list(m.items()) == [(b"234", 2), (b"key", 1)]
    assert all(type(key) is bytes for key in m)
    it = m.prefix_iter(ba)
    ba[:] = b"k"
    # The iterator copied the prefix ("changed") when it was made.
    assert list(it) == []
    m._validate()


# --------------------------------------------------------------------------
# Iterators and views after the map was cleared, emptied or dropped
# --------------------------------------------------------------------------


def iterator_makers(kind):
    k = kind.k
    return {
        "iter": lambda m: iter(m),
        "reversed": lambda m: reversed(m),
        "values": lambda m: iter(m.values()),
        "items": lambda m: iter(m.items()),
        "reversed_keys": lambda m: reversed(m.keys()),
        "prefix_iter": lambda m: m.prefix_iter(k("k")),
        "prefix_iter_reverse": lambda m: m.prefix_iter(k("k"), reverse=True),
        "range": lambda m: m.range(k("k03"), k("k25")),
        "range_reverse": lambda m: m.range(k("k03"), k("k25"), reverse=True),
        "fuzzy": lambda m: m.fuzzy_search(k("k1"), 2),
        "prefixes": lambda m: m.prefixes(k("k25")),
    }


ITERATORS = [
    "fuzzy",
    "items",
    "iter",
    "prefix_iter",
    "prefix_iter_reverse",
    "prefixes",
    "range",
    "range_reverse",
    "reversed",
    "reversed_keys",
    "values",
]


def item_key(x):
    if isinstance(x, tuple):
        return x[0]
    return x


@pytest.mark.parametrize("which", ITERATORS)
def test_iterator_after_clear(kind, which):
    m = base(kind)
    m[kind.k("k")] = -1  # so that prefixes() has something
    it = iterator_makers(kind)[which](m)
    first = next(it)
    m.clear()
    assert list(it) == []
    # Stays exhausted, even when the map fills up again.
    m.update(base(kind))
    assert list(it) == []
    # A fresh iterator sees the new contents; cleared before its first step.
    it2 = iterator_makers(kind)[which](m)
    m.clear()
    assert list(it2) == []
    check_consistent(m, {})
    assert first is not None


@pytest.mark.parametrize("which", ITERATORS)
def test_iterator_after_clear_and_refill_before_next(kind, which):
    """Weak consistency across a clear: the iterator goes on from its last
    key among the keys present when it steps again."""
    m = base(kind)
    m[kind.k("k")] = -1  # values follow key order too
    make = iterator_makers(kind)[which]
    expected = [item_key(x) for x in make(m)]
    it = make(m)
    got = [item_key(next(it)), item_key(next(it))]
    m.clear()
    m.update(base(kind))
    m[kind.k("k")] = -1  # values follow key order too
    got += [item_key(x) for x in it]
    assert got == expected


@pytest.mark.parametrize("which", ITERATORS)
def test_iterator_while_map_is_emptied_by_deletes(kind, which):
    m = base(kind)
    m[kind.k("k")] = -1  # values follow key order too
    make = iterator_makers(kind)[which]
    it = make(m)
    got = []
    for x in it:
        got.append(item_key(x))
        # Delete two keys (one maybe ahead), until nothing is left.
        for _ in range(2):
            if m:
                m.popitem() if len(got) % 2 else m.pop_first()
    while m:
        m.pop_first()
    assert list(it) == []
    ordered = got[::-1] if which.startswith("reversed") or which.endswith("reverse") else got
    assert_run(ordered)
    check_consistent(m, {})


@pytest.mark.parametrize("which", ITERATORS)
def test_iterator_outlives_its_map(kind, which):
    m = base(kind)
    m[kind.k("k")] = -1  # values follow key order too
    make = iterator_makers(kind)[which]
    expected = list(make(m))
    it = make(m)
    first = next(it)
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is not None  # the iterator keeps it
    assert [first] + list(it) == expected
    del it
    gc.collect()
    assert ref() is None


def test_views_outlive_their_map(kind):
    m = base(kind)
    ks, vs, its = m.keys(), m.values(), m.items()
    expected = list(m.items())
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is not None
    assert list(its) == expected
    assert len(ks) == len(vs) == len(its) == 30
    assert kind.k("k03") in ks and (kind.k("k03"), 3) in its and 3 in vs
    assert list(reversed(ks)) == [k for k, _ in reversed(expected)]
    assert ks & {kind.k("k03"), kind.k("zz")} == {kind.k("k03")}
    assert repr(ks).startswith("TreeMapKeys([")
    its_map = ref()
    its_map.clear()
    del its_map
    assert len(ks) == 0 and list(vs) == [] and list(reversed(its)) == []
    assert ks == set() and ks.isdisjoint([kind.k("k03")])
    del ks, vs, its
    gc.collect()
    assert ref() is None


def test_views_after_shrinking_to_nothing(kind):
    m = base(kind)
    ks, its = m.keys(), m.items()
    it = iter(ks)
    next(it)
    while m.pop_last():
        pass
    assert len(ks) == 0 and list(ks) == [] and list(it) == []
    m[kind.k("new")] = 1
    assert list(ks) == [kind.k("new")] and list(its) == [(kind.k("new"), 1)]
    check_consistent(m, {kind.k("new"): 1})


def test_iterator_of_a_map_collected_as_garbage(kind):
    """A map in a reference cycle with its own iterators is collected; an
    iterator resurrected by a finalizer of the cycle stays usable."""
    saved = []
    gc.collect()

    class Saver:
        def __init__(self, it):
            self.it = it

        def __del__(self):
            saved.append(self.it)

    m = base(kind)
    it = iter(m.items())
    next(it)
    m[kind.k("zz-saver")] = Saver(it)
    m[kind.k("zz-self")] = m
    del m, it
    gc.collect()
    assert len(saved) == 1
    rest = list(saved[0])  # the resurrected map is intact or empty
    assert_run([k for k, _ in rest])
    saved.clear()
    gc.collect()


# --------------------------------------------------------------------------
# update / | from sources that change the target
# --------------------------------------------------------------------------


class KeysMutates:
    def __init__(self, target, data, action):
        self.target, self.data, self.action = target, data, action

    def keys(self):
        self.action(self.target)
        return list(self.data)

    def __getitem__(self, key):
        return self.data[key]


class GetitemMutates:
    def __init__(self, target, data, action):
        self.target, self.data, self.action = target, data, action

    def keys(self):
        return list(self.data)

    def __getitem__(self, key):
        self.action(self.target)
        return self.data[key]


def mutations(kind):
    k = kind.k
    return {
        "clear": lambda t: t.clear(),
        "delete_some": lambda t: [t.pop(k(f"k{i:02d}"), None) for i in range(0, 30, 2)],
        "insert_same_keys": lambda t: t.update({k("s1"): "mut", k("s2"): "mut"}),
        "grow_shrink": lambda t: (
            [t.__setitem__(k(f"g{i:02d}"), i) for i in range(60)],
            [t.__delitem__(k(f"g{i:02d}")) for i in range(60)],
        ),
    }


@pytest.mark.parametrize("what", ["clear", "delete_some", "insert_same_keys", "grow_shrink"])
@pytest.mark.parametrize("where", ["keys", "getitem"])
@pytest.mark.parametrize("api", ["update", "ior", "ctor"])
def test_update_from_mapping_that_mutates_the_target(kind, what, where, api):
    """The result must be what the same steps give on a dict target:
    update() reads keys() once, then each item, applying it at once."""
    data = {kind.k("s1"): 1, kind.k("s2"): 2, kind.k("k05"): "five"}
    action = mutations(kind)[what]
    source_cls = KeysMutates if where == "keys" else GetitemMutates
    m = base(kind)
    reference = dict(base(kind))
    if api == "update":
        m.update(source_cls(m, data, action))
        reference.update(source_cls(reference, data, action))
    elif api == "ior":
        m |= source_cls(m, data, action)
        reference |= source_cls(reference, data, action)
    else:
        # The source changes another map while a new one is built from it;
        # dict() reads a source the same way (keys(), then each item).
        built = kind.cls(source_cls(m, data, action))
        assert dict(built) == dict(source_cls(reference, data, action)) == data
        built._validate()
    check_consistent(m, reference)
    assert dict(m) == reference


def test_or_refuses_a_non_mapping_source_that_would_mutate(kind):
    m = base(kind)
    src = KeysMutates(m, {kind.k("s1"): 1}, lambda t: t.clear())
    with pytest.raises(TypeError):
        m | src
    with pytest.raises(TypeError):
        src | m
    check_consistent(m, dict(base(kind)))


def test_update_from_itself_while_values_mutate_it(kind):
    m = base(kind)
    log = []
    for i in range(0, 30, 7):
        m[kind.k(f"k{i:02d}")] = OnDel(mutator(kind, m, log))
    m.update(m)  # same values: nothing released
    assert log == []
    m.update(kind.cls({kind.k(f"k{i:02d}"): "x" for i in range(30)}))
    assert len(log) == 5
    check_consistent(m)
    m |= m
    m.update(m.items())
    m.update(reversed(m.items()))
    check_consistent(m)


def test_update_from_live_view_of_target(kind):
    """The source's keys() is the target's live key view and reading an
    item adds keys ahead: the walk sees some of them, and stops."""
    m = base(kind, 10)
    added = []

    class LiveSource:
        def keys(self):
            return m.keys()

        def __getitem__(self, key):
            if len(added) < 50:
                new = key + kind.k("+")
                added.append(new)
                m[new] = "added"
            return m[key]

    m.update(LiveSource())
    check_consistent(m)
    assert len(added) == 50
    assert all(m[a] == "added" for a in added)


def test_update_from_dict_changed_by_a_del(kind):
    m = base(kind)
    d = {kind.k("k05"): "a", kind.k("k06"): "b", kind.k("k07"): "c"}
    m[kind.k("k05")] = OnDel(lambda: d.__setitem__("extra", 1))
    with pytest.raises(RuntimeError, match="changed size"):
        m.update(d)
    assert m[kind.k("k05")] == "a"  # applied before the error
    check_consistent(m)


def test_update_from_generator_that_mutates_the_target(kind):
    m = base(kind)

    def gen():
        for i in range(30):
            if i % 5 == 0:
                m.clear()
            yield kind.k(f"n{i:02d}"), i
            m[kind.k(f"side{i:02d}")] = i

    m.update(gen())
    check_consistent(m)
    for i in range(25, 30):
        assert m[kind.k(f"n{i:02d}")] == i


def test_eq_with_mapping_that_mutates(kind):
    import collections.abc

    m = base(kind)

    class Sneaky(collections.abc.Mapping):
        def __init__(self, data):
            self.data = data

        def __getitem__(self, key):
            m.pop(kind.k("k29"), None)
            m[kind.k("k15x")] = 0
            return self.data[key]

        def __iter__(self):
            return iter(self.data)

        def __len__(self):
            return len(self.data)

    assert (m == Sneaky(dict(m))) in (True, False)
    check_consistent(m)

    class Raising(Sneaky):
        def __getitem__(self, key):
            raise Boom("getitem")

    with pytest.raises(Boom):
        m == Raising(dict(m))


# --------------------------------------------------------------------------
# __del__ that steps the running iterator
# --------------------------------------------------------------------------


def test_del_steps_the_iterator_that_replaced_its_value(kind):
    """While iterating, replacing a value releases the old one, whose
    __del__ advances the same iterator."""
    m = base(kind)
    all_keys = list(m)
    order = []
    it = iter(m)

    def step():
        try:
            order.append(("del", next(it)))
        except StopIteration:
            pass

    for i in range(30):
        m[kind.k(f"k{i:02d}")] = OnDel(step)
    for key in it:
        order.append(("main", key))
        m[key] = "plain"  # releases an OnDel: steps `it` once more
    keys = [key for _, key in order]
    assert keys == all_keys  # each key once, in order, none skipped
    assert {w for w, _ in order} == {"main", "del"}
    check_consistent(m)


def test_del_run_by_the_collector_inside_next(kind):
    """Cyclic garbage whose __del__ calls next() on the iterator is made
    before every step; the collector may run inside next() (then the inner
    call must refuse with RuntimeError) or between steps (then it simply
    takes the next key).  Either way every key comes out once, in order."""
    m = base(kind, 200)
    expected = list(m.items())
    it = iter(m.items())
    order, refused = [], []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            try:
                x = next(it)
            except StopIteration:
                return
            except RuntimeError as e:
                refused.append(str(e))
                return
            order.append(("del", x))

    old = gc.get_threshold()
    gc.collect()
    gc.freeze()  # keeps each of the many collections below small
    gc.set_threshold(1, 1, 1)
    try:
        while True:
            Cycle()
            try:
                x = next(it)
            except StopIteration:
                break
            order.append(("main", x))
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
    gc.collect()
    # Each caller sees its own items in key order.  The two streams are
    # only compared as a whole: a collection can run between a caller's
    # next() and its append (a tracer such as coverage.py allocates there),
    # so the shared list need not record the order of retrieval.
    for who in ("main", "del"):
        mine = [x for w, x in order if w == who]
        assert mine == sorted(mine)
    assert sorted(x for _, x in order) == expected
    assert all("already executing" in r for r in refused)
    check_consistent(m)


# --------------------------------------------------------------------------
# Python-level buffer exporters (PEP 688, Python 3.12+)
# --------------------------------------------------------------------------

BUFFER_SCRIPT = textwrap.dedent(
    """
    import sys
    from blart import BytesTreeMap

    class Key:
        # Exports its bytes through __buffer__ (Python >= 3.12); releasing
        # the buffer empties the map and fills it with other data.
        def __init__(self, m, data):
            self.m, self.data = m, bytearray(data)

        def __buffer__(self, flags):
            return memoryview(self.data)

        def __release_buffer__(self, view):
            view.release()
            self.m.clear()
            for i in range(200):
                self.m[b"filler%d" % i] = [i] * 50
            self.m.clear()

    OPS = [
        ("getitem", lambda m, k: m[k]),
        ("get", lambda m, k: m.get(k)),
        ("contains", lambda m, k: k in m),
        ("setdefault", lambda m, k: m.setdefault(k)),
        ("floor", lambda m, k: m.floor(k)),
        ("ceiling", lambda m, k: m.ceiling(k)),
        ("lower", lambda m, k: m.lower(Key(m, b"kz"))),
        ("higher", lambda m, k: m.higher(Key(m, b"j"))),
        ("get_prefix", lambda m, k: m.get_prefix(k)),
        ("longest_prefix", lambda m, k: m.longest_prefix(k)),
        ("pop", lambda m, k: m.pop(k)),
        ("items_contains", lambda m, k: (k, 1) in m.items()),
        ("setitem", lambda m, k: m.__setitem__(k, 1)),
        ("prefix_iter", lambda m, k: list(m.prefix_iter(k))),
        ("range", lambda m, k: list(m.range(k, Key(m, b"l")))),
        ("fuzzy_search", lambda m, k: list(m.fuzzy_search(k, 1))),
    ]
    name = sys.argv[1]
    fn = dict(OPS)[name]
    supports_buffers = sys.version_info >= (3, 12)
    for _ in range(30):
        m = BytesTreeMap()
        m[b"k"] = [object() for _ in range(20)]
        m[b"kz"] = 1
        key = Key(m, b"k")
        try:
            result = fn(m, key)
        except TypeError as e:
            # Before 3.12 a Python class cannot export a buffer.
            assert not supports_buffers, e
            assert "bytes-like" in str(e), e
            continue
        if not supports_buffers:
            # A key of the wrong type is simply not an item.
            assert name == "items_contains" and result is False, (name, result)
            continue
        repr(result)
        if isinstance(result, list) and result and isinstance(result[0], object) \\
                and name in ("getitem", "get", "setdefault", "pop"):
            assert len(result) == 20, "a released value was returned"
        m._validate()
    print("ok")
    """
)

BUFFER_OPS = [
    "getitem",
    "get",
    "contains",
    "setdefault",
    "floor",
    "ceiling",
    "lower",
    "higher",
    "get_prefix",
    "longest_prefix",
    "pop",
    "items_contains",
    "setitem",
    "prefix_iter",
    "range",
    "fuzzy_search",
]


@pytest.mark.parametrize("op", BUFFER_OPS)
def test_key_whose_buffer_release_mutates_the_map(op):
    """Releasing a key's buffer can run Python code (PEP 688): nothing the
    tree returned may be used after that.  Run in a child process, so that a
    crash is a failure of this test and not of the whole run."""
    proc = subprocess.run(
        [sys.executable, "-c", BUFFER_SCRIPT, op], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        f"{op}: exit status {proc.returncode}\n{proc.stderr[-2000:]}"
    )


# --------------------------------------------------------------------------
# Deep nesting and values that change the map while it is serialised
# --------------------------------------------------------------------------


def nested_chain(kind, depth):
    top = cur = kind.cls()
    for _ in range(depth):
        nxt = kind.cls()
        cur[kind.k("x")] = nxt
        cur = nxt
    return top


def test_deeply_nested_maps_raise_recursion_error_not_crash(kind):
    a = nested_chain(kind, 50_000)
    b = nested_chain(kind, 50_000)
    for fn in (repr, lambda m, other=b: m == other, pickle.dumps, copy_deep):
        with pytest.raises(RecursionError):
            fn(a)
    ref = weakref.ref(a)
    del a, b  # deallocation of 50,000 nested maps must not overflow the stack
    assert ref() is None


def copy_deep(m):
    import copy

    return copy.deepcopy(m)


class ReduceMutates:
    """Clears its map and adds a key when pickled or deep-copied."""

    def __init__(self, m, kind):
        self.m, self.kind = m, kind

    def __reduce__(self):
        self.m.clear()
        self.m[self.kind.k("zz-late")] = "late"
        return (str, ("reduced",))

    def __deepcopy__(self, memo):
        self.__reduce__()
        return "deep"


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_value_mutating_the_map_while_it_is_serialised(kind, how):
    import copy

    m = base(kind)
    m[kind.k("k10")] = ReduceMutates(m, kind)
    if how == "pickle":
        result = pickle.loads(pickle.dumps(m))
    elif how == "deepcopy":
        result = copy.deepcopy(m)
    else:
        result = copy.copy(m)  # shallow: nothing runs, a plain snapshot
        assert dict(result) == {**dict(base(kind)), kind.k("k10"): m[kind.k("k10")]}
        return
    check_consistent(result)
    check_consistent(m, {kind.k("zz-late"): "late"})
    keys = list(result)
    # Everything up to the mutating value, then (maybe a few keys read
    # ahead before it ran) and the key added behind its back.
    assert keys[:11] == [kind.k(f"k{i:02d}") for i in range(11)]
    assert keys[-1] == kind.k("zz-late")
    assert_run(keys)
