"""Views, iterators, and the weak consistency of iterators under mutation."""

import collections.abc as cabc
import random

import pytest
from support import check_consistent

# --------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------


def test_view_types(kind):
    m = kind.new({"a": 1})
    assert isinstance(m.keys(), cabc.KeysView)
    assert isinstance(m.values(), cabc.ValuesView)
    assert isinstance(m.items(), cabc.ItemsView)
    assert isinstance(m.keys(), cabc.Set)
    assert isinstance(m.items(), cabc.Set)


def test_views_in_key_order(kind):
    texts = ["b", "a", "ab", "", "é", "z\x00"]
    m = kind.cls({kind.k(t): i for i, t in enumerate(texts)})
    order = sorted(kind.ks(texts))
    by_key = {kind.k(t): i for i, t in enumerate(texts)}
    assert list(m.keys()) == order
    assert list(m.values()) == [by_key[k] for k in order]
    assert list(m.items()) == [(k, by_key[k]) for k in order]
    assert list(reversed(m.keys())) == order[::-1]
    assert list(reversed(m.values())) == [by_key[k] for k in order[::-1]]
    assert list(reversed(m.items())) == [(k, by_key[k]) for k in order[::-1]]
    assert list(iter(m)) == order
    assert list(reversed(m)) == order[::-1]
    for item in m.items():
        assert type(item) is tuple and len(item) == 2


def test_views_are_live(kind):
    m = kind.new({"b": 2})
    ks, vs, its = m.keys(), m.values(), m.items()
    assert len(ks) == len(vs) == len(its) == 1
    m[kind.k("a")] = 1
    m[kind.k("c")] = 3
    assert len(ks) == len(vs) == len(its) == 3
    assert list(ks) == kind.ks(["a", "b", "c"])
    assert list(vs) == [1, 2, 3]
    assert kind.k("c") in ks
    del m[kind.k("b")]
    assert kind.k("b") not in ks
    assert 2 not in vs
    assert (kind.k("b"), 2) not in its
    m.clear()
    assert len(ks) == 0 and list(vs) == [] and list(its) == []
    assert list(reversed(ks)) == []


def test_views_keep_the_map_alive(kind):
    view = kind.new({"a": 1, "b": 2}).items()
    assert list(view) == [(kind.k("a"), 1), (kind.k("b"), 2)]
    it = iter(kind.new({"x": 1}).values())
    assert list(it) == [1]


def test_view_membership(kind):
    a, b, missing = kind.k("a"), kind.k("b"), kind.k("zz")
    m = kind.cls({a: 1, b: [2]})
    assert a in m.keys() and missing not in m.keys()
    assert 1 in m.values() and [2] in m.values() and 3 not in m.values()
    assert 1.0 in m.values()
    assert (a, 1) in m.items()
    assert (a, 1.0) in m.items()
    assert (b, [2]) in m.items()
    assert (a, 2) not in m.items()
    assert (missing, 1) not in m.items()
    assert (b, [3]) not in m.items()


def test_keys_view_set_operations(kind):
    a, b, c, x = kind.ks(["a", "b", "c", "x"])
    m = kind.cls({a: 1, b: 2, c: 3})
    ks = m.keys()
    results = {
        "and": (ks & {a, x}, {a}),
        "rand": ({a, x} & ks, {a}),
        "or": (ks | {x}, {a, b, c, x}),
        "ror": ({x} | ks, {a, b, c, x}),
        "sub": (ks - {a, x}, {b, c}),
        "rsub": ({a, x} - ks, {x}),
        "xor": (ks ^ {a, x}, {b, c, x}),
        "rxor": ({a, x} ^ ks, {b, c, x}),
        "and_list": (ks & [a, x], {a}),
        "or_view": (ks | kind.new({"q": 0}).keys(), {a, b, c, kind.k("q")}),
    }
    for name, (got, want) in results.items():
        assert type(got) is set, name
        assert got == want, name
    assert ks.isdisjoint({x})
    assert ks.isdisjoint([])
    assert not ks.isdisjoint([x, c])
    assert ks == {a, b, c}
    assert {a, b, c} == ks
    assert ks != {a, b}
    assert ks <= {a, b, c} and ks <= {a, b, c, x}
    assert ks < {a, b, c, x} and not ks < {a, b, c}
    assert ks >= {a} and ks > {a, b} and not ks > {a, b, c}
    assert not ks <= {a}
    assert ks == kind.cls({a: 0, b: 0, c: 0}).keys()
    assert m == {a: 1, b: 2, c: 3}  # untouched


def test_keys_view_set_operations_with_other_key_types(kind):
    """Set operations are set semantics, as for dict views: elements that
    cannot be keys of this map are simply not in the view."""
    m = kind.new({"a": 1, "b": 2})
    ks = m.keys()
    strangers = {1, None, kind.foreign_key}
    assert ks & strangers == set()
    assert ks - strangers == set(kind.ks(["a", "b"]))
    assert ks | strangers == set(kind.ks(["a", "b"])) | strangers
    assert ks ^ strangers == set(kind.ks(["a", "b"])) | strangers
    assert (ks == strangers) is False
    assert ks.isdisjoint(strangers) is True
    assert ks.isdisjoint([kind.foreign_key, kind.k("zz")]) is True
    assert ks.isdisjoint([kind.foreign_key, kind.k("a")]) is False


def test_items_view_set_operations(kind):
    a, b, x = kind.ks(["a", "b", "x"])
    m = kind.cls({a: 1, b: 2})
    its = m.items()
    results = {
        "and": (its & {(a, 1), (b, 3)}, {(a, 1)}),
        "rand": ({(a, 1), (x, 0)} & its, {(a, 1)}),
        "or": (its | {(x, 0)}, {(a, 1), (b, 2), (x, 0)}),
        "sub": (its - {(a, 1)}, {(b, 2)}),
        "rsub": ({(a, 1), (x, 0)} - its, {(x, 0)}),
        "xor": (its ^ {(a, 1), (x, 0)}, {(b, 2), (x, 0)}),
    }
    for name, (got, want) in results.items():
        assert type(got) is set, name
        assert got == want, name
    assert its.isdisjoint({(a, 2)})
    assert not its.isdisjoint({(a, 1)})
    assert its == {(a, 1), (b, 2)}
    assert its != {(a, 1), (b, 3)}
    assert its <= {(a, 1), (b, 2), (x, 0)}
    assert its < {(a, 1), (b, 2), (x, 0)}
    assert its > {(b, 2)}


# --------------------------------------------------------------------------
# Plain iterators
# --------------------------------------------------------------------------


def make_iter(m, mode):
    source, _, direction = mode.partition("-")
    target = {"map": m, "keys": m.keys(), "values": m.values(), "items": m.items()}[source]
    return reversed(target) if direction == "rev" else iter(target)


MODES = [f"{s}{d}" for s in ("map", "keys", "values", "items") for d in ("", "-rev")]


def key_of(element, mode):
    """Values in these tests are ("v", key, ...), so every mode shows its key."""
    if mode.startswith("values"):
        return element[1]
    if mode.startswith("items"):
        assert element[1][1] == element[0]
        return element[0]
    return element


def is_rev(mode):
    return mode.endswith("-rev")


def val(key, tag=0):
    return ("v", key, tag)


def filled(kind, texts):
    return kind.cls({kind.k(t): val(kind.k(t)) for t in texts})


def following(keys, last, reverse):
    """The key a weakly consistent iterator yields next, or None."""
    if reverse:
        candidates = [k for k in keys if last is None or k < last]
        return max(candidates) if candidates else None
    candidates = [k for k in keys if last is None or k > last]
    return min(candidates) if candidates else None


@pytest.mark.parametrize("mode", MODES)
def test_iterator_protocol(kind, mode):
    m = filled(kind, ["a", "b"])
    it = make_iter(m, mode)
    assert iter(it) is it
    assert isinstance(it, cabc.Iterator)
    got = [key_of(e, mode) for e in it]
    assert got == (kind.ks(["b", "a"]) if is_rev(mode) else kind.ks(["a", "b"]))


@pytest.mark.parametrize("mode", MODES)
def test_exhausted_iterator_stays_exhausted(kind, mode):
    m = filled(kind, ["b", "c"])
    it = make_iter(m, mode)
    assert len(list(it)) == 2
    with pytest.raises(StopIteration):
        next(it)
    # Keys that would come next in either direction appear after exhaustion.
    m[kind.k("a")] = val(kind.k("a"))
    m[kind.k("d")] = val(kind.k("d"))
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        next(it)
    assert list(it) == []
    empty = kind.cls()
    it = make_iter(empty, mode)
    with pytest.raises(StopIteration):
        next(it)
    empty[kind.k("a")] = val(kind.k("a"))
    with pytest.raises(StopIteration):
        next(it)


@pytest.mark.parametrize("mode", MODES)
def test_iterators_are_lazy(kind, mode):
    m = filled(kind, ["m"])
    it = make_iter(m, mode)
    # Made before the first step: the first step sees the map as it is then.
    first = "a" if not is_rev(mode) else "z"
    m[kind.k(first)] = val(kind.k(first))
    assert key_of(next(it), mode) == kind.k(first)
    assert key_of(next(it), mode) == kind.k("m")
    with pytest.raises(StopIteration):
        next(it)
    empty = kind.cls()
    it = make_iter(empty, mode)
    empty[kind.k("q")] = val(kind.k("q"))
    assert key_of(next(it), mode) == kind.k("q")


@pytest.mark.parametrize("mode", MODES)
def test_independent_iterators(kind, mode):
    texts = ["a", "b", "c", "d"]
    m = filled(kind, texts)
    order = kind.ks(texts[::-1] if is_rev(mode) else texts)
    it1, it2 = make_iter(m, mode), make_iter(m, mode)
    assert key_of(next(it1), mode) == order[0]
    assert key_of(next(it1), mode) == order[1]
    assert key_of(next(it2), mode) == order[0]
    it3 = make_iter(m, mode)
    assert [key_of(e, mode) for e in it1] == order[2:]
    assert key_of(next(it2), mode) == order[1]
    assert [key_of(e, mode) for e in it3] == order
    assert [key_of(e, mode) for e in it2] == order[2:]


def test_iterator_keeps_map_alive(kind):
    it = iter(filled(kind, ["a", "b"]))
    assert list(it) == kind.ks(["a", "b"])
    it = reversed(filled(kind, ["a", "b"]).items())
    assert [k for k, _ in it] == kind.ks(["b", "a"])


# --------------------------------------------------------------------------
# Mutation during iteration
# --------------------------------------------------------------------------

TEXTS = ["", "a", "a\x00", "ab", "abc", "b", "ba", "é", "日", "日本", "\U0001f600"]


@pytest.mark.parametrize("mode", MODES)
def test_delete_current_key_each_step(kind, mode):
    m = filled(kind, TEXTS)
    order = sorted(kind.ks(TEXTS), reverse=is_rev(mode))
    seen = []
    for element in make_iter(m, mode):
        key = key_of(element, mode)
        seen.append(key)
        del m[key]
        check_consistent(m)
    assert seen == order
    assert len(m) == 0


@pytest.mark.parametrize("mode", MODES)
def test_delete_upcoming_key(kind, mode):
    m = filled(kind, TEXTS)
    order = sorted(kind.ks(TEXTS), reverse=is_rev(mode))
    it = make_iter(m, mode)
    assert key_of(next(it), mode) == order[0]
    del m[order[1]]
    del m[order[3]]
    rest = [key_of(e, mode) for e in it]
    assert rest == [order[2], *order[4:]]


@pytest.mark.parametrize("mode", MODES)
def test_insert_ahead_is_seen_behind_is_not(kind, mode):
    m = filled(kind, ["b", "d", "f"])
    it = make_iter(m, mode)
    assert key_of(next(it), mode) == kind.k("f" if is_rev(mode) else "b")
    assert key_of(next(it), mode) == kind.k("d")
    # Keys on both sides of the current one, some sharing its prefix.
    for t in ["a", "c", "c\x00", "d\x00", "da", "dé", "e", "g", "", "\U0001f600"]:
        m[kind.k(t)] = val(kind.k(t))
    rest = [key_of(e, mode) for e in it]
    if is_rev(mode):
        assert rest == kind.ks(["c\x00", "c", "b", "a", ""])
    else:
        assert rest == kind.ks(["d\x00", "da", "dé", "e", "f", "g", "\U0001f600"])


@pytest.mark.parametrize("mode", MODES)
def test_clear_ends_iteration(kind, mode):
    m = filled(kind, TEXTS)
    it = make_iter(m, mode)
    next(it)
    m.clear()
    with pytest.raises(StopIteration):
        next(it)
    m.update(filled(kind, TEXTS))
    with pytest.raises(StopIteration):
        next(it)


@pytest.mark.parametrize("mode", MODES)
def test_clear_then_refill_continues_after_last_key(kind, mode):
    m = filled(kind, ["a", "m", "z"])
    it = make_iter(m, mode)
    assert key_of(next(it), mode) == kind.k("z" if is_rev(mode) else "a")
    m.clear()
    for t in ["a", "b", "y", "z", "zz"]:
        m[kind.k(t)] = val(kind.k(t))
    rest = [key_of(e, mode) for e in it]
    if is_rev(mode):
        assert rest == kind.ks(["y", "b", "a"])
    else:
        assert rest == kind.ks(["b", "y", "z", "zz"])


@pytest.mark.parametrize("mode", MODES)
def test_reinserted_current_key_is_not_repeated(kind, mode):
    m = filled(kind, ["a", "b", "c"])
    it = make_iter(m, mode)
    next(it)
    current = key_of(next(it), mode)
    assert current == kind.k("b")
    del m[current]
    m[current] = val(current, 1)
    assert [key_of(e, mode) for e in it] == [kind.k("a" if is_rev(mode) else "c")]


@pytest.mark.parametrize("mode", ["values", "values-rev", "items", "items-rev"])
def test_values_are_read_when_yielded(kind, mode):
    m = filled(kind, ["a", "b", "c", "d"])
    it = make_iter(m, mode)
    next(it)
    for key in list(m):
        m[key] = val(key, "new")
    for element in it:
        value = element if mode.startswith("values") else element[1]
        assert value[2] == "new"


@pytest.mark.parametrize("mode", MODES)
def test_replacing_values_while_iterating_keeps_the_walk(kind, mode):
    m = filled(kind, TEXTS)
    seen = []
    for element in make_iter(m, mode):
        key = key_of(element, mode)
        seen.append(key)
        m[key] = val(key, "seen")
        m.insert(key, val(key, "again"))
    assert seen == sorted(kind.ks(TEXTS), reverse=is_rev(mode))
    assert all(v[2] == "again" for v in m.values())


@pytest.mark.parametrize("mode", MODES)
def test_many_iterators_survive_node_rebuilds(kind, mode):
    """Parked iterators, then every node below them grows and shrinks."""
    base = [chr(c) for c in range(ord("a"), ord("a") + 40)]
    m = filled(kind, base)
    present = set(m)
    parked = []
    for steps in range(1, 40, 3):
        it = make_iter(m, mode)
        last = None
        for _ in range(steps):
            last = key_of(next(it), mode)
        parked.append((it, last))
    extra = [b + chr(c) for b in base for c in range(0x20, 0x7F, 2)]
    rng = random.Random(7)
    rng.shuffle(extra)
    for t in extra:
        m[kind.k(t)] = val(kind.k(t))
        present.add(kind.k(t))
    for t in base[::2] + extra[::3]:
        del m[kind.k(t)]
        present.discard(kind.k(t))
    check_consistent(m)
    for it, last in parked:
        got = key_of(next(it), mode)
        assert got == following(present, last, is_rev(mode))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", MODES)
def test_random_mutation_during_iteration(kind, mode, seed):
    rng = random.Random(seed * 100 + MODES.index(mode))
    alphabet = ["a", "b", "\x00", "é", "日"]

    def rand_key():
        return kind.k("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3))))

    model = {}
    for _ in range(rng.randint(0, 60)):
        key = rand_key()
        model[key] = val(key)
    m = kind.cls(model)
    reverse = is_rev(mode)
    it = make_iter(m, mode)
    last = None
    seen = []
    while True:
        want = following(model, last, reverse)
        try:
            element = next(it)
        except StopIteration:
            assert want is None
            break
        got = key_of(element, mode)
        assert got == want
        if not mode.startswith("map") and not mode.startswith("keys"):
            value = element if mode.startswith("values") else element[1]
            assert value == model[got]
        assert got not in seen
        seen.append(got)
        last = got
        for _ in range(rng.randint(0, 4)):
            action = rng.random()
            if action < 0.45:
                key = rand_key()
                model[key] = m[key] = val(key, rng.random())
            elif action < 0.85 and model:
                key = rng.choice(sorted(model))
                del m[key]
                del model[key]
            elif action < 0.95 and model:
                key = rng.choice(sorted(model))
                model[key] = m[key] = val(key, "replaced")
            elif action >= 0.99:
                m.clear()
                model.clear()
        if rng.random() < 0.2:
            check_consistent(m, model)
    with pytest.raises(StopIteration):
        next(it)
    check_consistent(m, model)


def test_a_reused_pair_hashes_as_its_contents(kind):
    """The items iterator reuses its last pair when nobody kept it; the
    pair must then hash as the new contents do (CPython 3.14 caches a
    tuple's hash in the tuple), so that sets and dicts find it."""
    data = {c: i for i, c in enumerate("abcdefgh")}
    m = kind.new(data)
    expected = set(kind.d(data).items())
    seen = 0
    for pair in m.items():
        assert hash(pair) == hash((pair[0], pair[1]))
        assert pair in expected
        seen += 1
    assert seen == len(expected)
