"""Where a user expects a TreeMap to behave as a dict does: subclasses
(pickling without ``__init__``, ``__slots__``, ``__missing__``), the
views (comparisons by containment, ``.mapping``), equality of a map with
itself, and operations that change nothing while a save is running.

Each behaviour is checked side by side with ``dict`` where dict has it."""

import copy
import math
import operator
import pickle
import types

import pytest

from blart import BytesTreeMap, FrozenTreeMap, TreeMap

KINDS = [(TreeMap, str), (BytesTreeMap, lambda s: s.encode())]


# ---------------------------------------------------------------------------
# Subclasses: rebuilt through __new__, __slots__ kept, __missing__ called


class WithDefault(TreeMap):
    """A subclass whose __init__ adds a key: pickling must not run it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self["default"] = 0


class NeedsArgs(TreeMap):
    """A subclass whose __init__ takes a required argument."""

    def __init__(self, owner, *args):
        super().__init__(*args)
        self.owner = owner


class DictWithDefault(dict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self["default"] = 0


def _copies(m):
    """Every way of copying a map that a user reaches for, by name."""
    return {
        "pickle": pickle.loads(pickle.dumps(m)),
        "deepcopy": copy.deepcopy(m),
        "copy.copy": copy.copy(m),
    }


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy.copy"])
def test_a_deleted_default_key_stays_deleted_as_in_a_dict_subclass(how):
    d = DictWithDefault(a=1)
    del d["default"]
    m = WithDefault({"a": 1})
    del m["default"]
    dc = _copies(d)[how]
    mc = _copies(m)[how]
    assert dict(dc) == {"a": 1}
    assert dict(mc) == dict(dc)
    assert type(mc) is WithDefault


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy.copy"])
def test_a_subclass_with_required_init_arguments_copies(how):
    m = NeedsArgs("me", {"a": 1, "b": 2})
    c = _copies(m)[how]
    assert type(c) is NeedsArgs
    assert dict(c) == {"a": 1, "b": 2}
    assert c.owner == "me"


class Slotted(TreeMap):
    __slots__ = ("tag", "unset")


class SlottedBytes(BytesTreeMap):
    __slots__ = ("tag",)


class SlottedAndDict(TreeMap):
    __slots__ = ("__dict__", "tag")


class DictSlotted(dict):
    __slots__ = ("tag", "unset")


@pytest.mark.parametrize("cls", [Slotted, SlottedBytes, SlottedAndDict])
@pytest.mark.parametrize("how", ["copy()", "pickle", "deepcopy", "copy.copy"])
def test_slots_are_kept_by_every_copy(cls, how):
    key = b"k" if issubclass(cls, BytesTreeMap) else "k"
    m = cls({key: 1})
    m.tag = ["a", "list"]
    if cls is SlottedAndDict:
        m.extra = 5
    c = m.copy() if how == "copy()" else _copies(m)[how]
    assert type(c) is cls
    assert dict(c) == {key: 1}
    assert c.tag == ["a", "list"]
    if how == "deepcopy":
        assert c.tag is not m.tag
    if cls is SlottedAndDict:
        assert c.extra == 5
    if cls is Slotted:
        # An unset slot stays unset, as it does for a dict subclass.
        with pytest.raises(AttributeError):
            c.unset  # noqa: B018


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy.copy"])
def test_slots_of_a_dict_subclass_behave_the_same(how):
    """The reference behaviour the test above holds blart to."""
    d = DictSlotted(k=1)
    d.tag = ["a", "list"]
    c = _copies(d)[how]
    assert c.tag == ["a", "list"]
    with pytest.raises(AttributeError):
        c.unset  # noqa: B018


class Counting(TreeMap):
    def __missing__(self, key):
        return len(key)


class CountingBytes(BytesTreeMap):
    def __missing__(self, key):
        return ("missing", key)


class RaisingMissing(TreeMap):
    def __missing__(self, key):
        raise LookupError(f"no {key}")


def test_missing_is_called_by_subscript_only_as_in_dict():
    class D(dict):
        def __missing__(self, key):
            return len(key)

    for m in (Counting({"a": 1}), D({"a": 1})):
        assert m["a"] == 1
        assert m["abc"] == 3
        assert "abc" not in m  # __missing__ does not insert
        assert m.get("abc") is None  # get() does not call it
        with pytest.raises(KeyError):
            m.pop("abc")
    b = CountingBytes({b"a": 1})
    assert b[b"zz"] == ("missing", b"zz")
    with pytest.raises(LookupError, match="no q"):
        RaisingMissing()["q"]


def test_missing_is_not_called_for_a_wrong_key_type():
    with pytest.raises(TypeError):
        Counting()[b"bytes"]


def test_missing_on_a_frozen_subclass(tmp_path):
    class FrozenCounting(FrozenTreeMap):
        def __missing__(self, key):
            return -len(key)

    path = tmp_path / "m.blart"
    TreeMap({"a": 1}).save(path)
    f = FrozenCounting(path)
    assert f["a"] == 1
    assert f["xyz"] == -3
    with pytest.raises(KeyError):
        FrozenTreeMap(path)["xyz"]


# ---------------------------------------------------------------------------
# Views: comparisons by containment, as dict's views do

COMPARISONS = [
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]
SETOPS = [operator.and_, operator.or_, operator.sub, operator.xor]


def _outcome(f, a, b):
    try:
        r = f(a, b)
    except TypeError as e:
        return ("TypeError", "unhashable" in str(e))
    return ("ok", r if not isinstance(r, set) else sorted(r, key=repr))


CONTENTS = [
    ({"a": []}, {"a": []}),
    ({"a": [], "b": 1}, {"a": []}),
    ({"a": []}, {"a": [], "b": 1}),
    ({"a": [1]}, {"a": [2]}),
    ({"a": {}, "b": [1]}, {"b": [1], "a": {}}),
    ({}, {"a": []}),
    ({"a": 1}, {"a": 1}),
    ({"a": 1, "b": 2}, {"a": 1}),
]


@pytest.mark.parametrize("cls,key", KINDS)
@pytest.mark.parametrize("left,right", CONTENTS)
def test_items_views_compare_as_dicts_do(cls, key, left, right):
    dl = {key(k): v for k, v in left.items()}
    dr = {key(k): v for k, v in right.items()}
    ml, mr = cls(dl), cls(dr)
    for f in COMPARISONS + SETOPS:
        want = _outcome(f, dl.items(), dr.items())
        assert _outcome(f, ml.items(), mr.items()) == want, f
        assert _outcome(f, ml.items(), dr.items()) == want, f
        if f is not operator.xor:
            # dict's own code answers dict ^ other; it takes its shortcut
            # for two dict views only.
            assert _outcome(f, dl.items(), mr.items()) == want, f
    for f in COMPARISONS:
        assert _outcome(f, ml.items(), ml.items()) == _outcome(f, dl.items(), dl.items())
    assert ml.items().isdisjoint(mr.items()) == dl.items().isdisjoint(dr.items())
    assert ml.items().isdisjoint(dr.items()) == dl.items().isdisjoint(dr.items())


@pytest.mark.parametrize("cls,key", KINDS)
def test_items_views_compare_with_sets_as_dicts_do(cls, key):
    d = {key("a"): 1, key("b"): 2}
    m = cls(d)
    for other in [{(key("a"), 1)}, {(key("a"), 1), (key("b"), 2)}, set(), {(key("c"), [])[:1]}]:
        for f in COMPARISONS + SETOPS:
            assert _outcome(f, m.items(), other) == _outcome(f, d.items(), other)
            assert _outcome(f, other, m.items()) == _outcome(f, other, d.items())


@pytest.mark.parametrize("cls,key", KINDS)
def test_keys_views_compare_as_dicts_do(cls, key):
    for left, right in CONTENTS:
        dl = {key(k): v for k, v in left.items()}
        dr = {key(k): v for k, v in right.items()}
        ml, mr = cls(dl), cls(dr)
        for f in COMPARISONS + SETOPS:
            assert _outcome(f, ml.keys(), mr.keys()) == _outcome(f, dl.keys(), dr.keys())
            assert _outcome(f, ml.keys(), dr.keys()) == _outcome(f, dl.keys(), dr.keys())


@pytest.mark.parametrize("cls,key", KINDS)
def test_views_have_a_read_only_mapping(cls, key):
    m = cls({key("a"): 1})
    for view in (m.keys(), m.values(), m.items()):
        proxy = view.mapping
        assert isinstance(proxy, types.MappingProxyType)
        assert proxy[key("a")] == 1
        with pytest.raises(TypeError):
            proxy[key("b")] = 2  # type: ignore[index]
        m[key("b")] = 2
        assert proxy[key("b")] == 2  # a live view of the map
        assert len(proxy) == len(m)
        del m[key("b")]


def test_frozen_views_have_a_mapping(tmp_path):
    path = tmp_path / "m.blart"
    TreeMap({"a": 1}).save(path)
    f = FrozenTreeMap(path)
    assert dict(f.items().mapping) == {"a": 1}


# ---------------------------------------------------------------------------
# Equality: identity first, as dict compares its values


def test_a_frozen_map_holding_nan_equals_itself(tmp_path):
    path = tmp_path / "m.blart"
    TreeMap({"a": math.nan, "b": 1}).save(path)
    f = FrozenTreeMap(path)
    assert f == f
    assert not (f != f)
    d = {"a": math.nan}
    assert d == d  # the reference


def test_a_map_holding_nan_equals_itself():
    m = TreeMap({"a": math.nan})
    assert m == m
    assert not (m != m)


# ---------------------------------------------------------------------------
# While a save is running, operations that change nothing succeed


class Probe:
    """Pickled while the map is saved; runs the probe then."""

    def __init__(self, m, probe):
        self.m = m
        self.probe = probe
        self.seen = []

    def __reduce__(self):
        try:
            self.seen.append(("ok", self.probe(self.m)))
        except Exception as e:
            self.seen.append((type(e).__name__, str(e)))
        return (int, (7,))


NO_CHANGE = {
    "pop(missing, default)": lambda m: m.pop("missing", None),
    "setdefault(present)": lambda m: m.setdefault("a", 5),
    "update()": lambda m: m.update(),
    "update({})": lambda m: m.update({}),
    "update(TreeMap())": lambda m: m.update(TreeMap()),
    "|= {}": lambda m: operator.ior(m, {}) and None,
}
CHANGE = {
    "pop(present)": lambda m: m.pop("a"),
    "setitem": lambda m: m.__setitem__("new", 1),
    "setdefault(missing)": lambda m: m.setdefault("new", 1),
    "popitem": lambda m: m.popitem(),
    "clear": lambda m: m.clear(),
}


@pytest.mark.parametrize("name", sorted(NO_CHANGE))
def test_operations_that_change_nothing_succeed_during_a_save(tmp_path, name):
    m = TreeMap({"a": 1})
    p = Probe(m, NO_CHANGE[name])
    m["z"] = p
    m.save(tmp_path / "m.blart", allow_pickle=True)
    assert p.seen and p.seen[0][0] == "ok", p.seen
    assert dict(TreeMap.load(tmp_path / "m.blart", allow_pickle=True)) == {"a": 1, "z": 7}


def test_deleting_a_missing_key_during_a_save_is_a_key_error(tmp_path):
    m = TreeMap({"a": 1})
    p = Probe(m, lambda m: m.__delitem__("missing"))
    m["z"] = p
    m.save(tmp_path / "m.blart", allow_pickle=True)
    assert p.seen == [("KeyError", "'missing'")]


@pytest.mark.parametrize("name", sorted(CHANGE))
def test_operations_that_change_the_map_are_refused_during_a_save(tmp_path, name):
    m = TreeMap({"a": 1})
    p = Probe(m, CHANGE[name])
    m["z"] = p
    m.save(tmp_path / "m.blart", allow_pickle=True)
    assert p.seen and p.seen[0][0] == "RuntimeError", p.seen
    assert "being saved" in p.seen[0][1]
    assert dict(TreeMap.load(tmp_path / "m.blart", allow_pickle=True)) == {"a": 1, "z": 7}


class SlottedFrozen(FrozenTreeMap):
    __slots__ = ("tag",)


def test_a_frozen_subclass_keeps_its_slots_through_pickle(tmp_path):
    path = tmp_path / "m.blart"
    TreeMap({"a": 1}).save(path)
    f = SlottedFrozen(path)
    f.tag = "mine"
    for c in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f), copy.copy(f)):
        assert type(c) is SlottedFrozen
        assert c.tag == "mine"
        assert dict(c) == {"a": 1}


class OwnNew(TreeMap):
    """A subclass whose __new__ sets up state of its own: copies go through
    it (as copyreg.__newobj__ would), never through __init__."""

    made = 0

    def __new__(cls, *args, **kwargs):
        OwnNew.made += 1
        self = super().__new__(cls)
        self.origin = "new"
        return self

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self["init"] = 1


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_copies_go_through_a_subclass_new_not_its_init(how):
    """(copy() and copy.copy copy the tree in C and call neither.)"""
    m = OwnNew({"a": 1})
    del m["init"]
    OwnNew.made = 0
    c = {
        "pickle": lambda: pickle.loads(pickle.dumps(m)),
        "deepcopy": lambda: copy.deepcopy(m),
    }[how]()
    assert OwnNew.made == 1
    assert dict(c) == {"a": 1}
    assert c.origin == "new"
