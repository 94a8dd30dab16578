"""Model-based tests: each map type against a dict plus sorted()."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support import KINDS

# Few symbols, so keys share prefixes often.  Several multi-byte characters
# share their first UTF-8 bytes ("é"/"è" C3.., the two emoji F0 9F 98..),
# so keys also split inside a character.
ALPHABET = ["a", "b", "\x00", "é", "è", "日", "\U0001f600", "\U0001f601", "\ud800"]
texts = st.text(st.sampled_from(ALPHABET), max_size=4)
MODES = ["fwd", "rev", "keys", "values", "items", "keys-rev", "values-rev", "items-rev"]


def _make_iter(m, mode):
    if mode == "fwd":
        return iter(m)
    if mode == "rev":
        return reversed(m)
    source, _, direction = mode.partition("-")
    view = {"keys": m.keys, "values": m.values, "items": m.items}[source]()
    return reversed(view) if direction else iter(view)


class MapMachine(RuleBasedStateMachine):
    kind = None  # set by the concrete machines below

    def __init__(self):
        super().__init__()
        self.m = self.kind.cls()
        self.model = {}
        self.counter = 0
        self.iters = []  # [iterator, mode, last key or None, exhausted]

    def value(self):
        self.counter += 1
        return ("v", self.counter)

    def key(self, text):
        return self.kind.k(text)

    # ---------------------------------------------------------------- writes

    @rule(t=texts)
    def set_item(self, t):
        k, v = self.key(t), self.value()
        self.m[k] = v
        self.model[k] = v

    @rule(t=texts)
    def insert(self, t):
        k, v = self.key(t), self.value()
        assert self.m.insert(k, v) == self.model.get(k)
        self.model[k] = v

    @rule(t=texts)
    def delete(self, t):
        k = self.key(t)
        if k in self.model:
            del self.m[k]
            del self.model[k]
        else:
            try:
                del self.m[k]
            except KeyError as e:
                assert e.args == (k,)
            else:
                raise AssertionError("del of a missing key did not raise")

    @rule(t=texts)
    def remove(self, t):
        k = self.key(t)
        if k in self.model:
            assert self.m.remove(k) == self.model.pop(k)
        else:
            try:
                self.m.remove(k)
            except KeyError:
                pass
            else:
                raise AssertionError("remove of a missing key did not raise")

    @rule(t=texts, with_default=st.booleans())
    def pop(self, t, with_default):
        k = self.key(t)
        if with_default:
            assert self.m.pop(k, "dflt") == self.model.pop(k, "dflt")
        elif k in self.model:
            assert self.m.pop(k) == self.model.pop(k)
        else:
            try:
                self.m.pop(k)
            except KeyError:
                pass
            else:
                raise AssertionError("pop of a missing key did not raise")

    @rule()
    def popitem(self):
        if not self.model:
            try:
                self.m.popitem()
            except KeyError:
                return
            raise AssertionError("popitem on an empty map did not raise")
        k = max(self.model)
        assert self.m.popitem() == (k, self.model.pop(k))

    @rule(t=texts)
    def setdefault(self, t):
        k, v = self.key(t), self.value()
        assert self.m.setdefault(k, v) == self.model.setdefault(k, v)

    @rule(pairs=st.lists(texts, max_size=6), how=st.sampled_from(["pairs", "dict", "ior"]))
    def update(self, pairs, how):
        items = [(self.key(t), self.value()) for t in pairs]
        if how == "pairs":
            self.m.update(items)
        elif how == "dict":
            self.m.update(dict(items))
        else:
            alias = self.m
            alias |= items
            assert alias is self.m
        self.model.update(items)

    @rule(pairs=st.lists(texts, max_size=12), how=st.sampled_from(["pairs", "dict", "fromkeys"]))
    def clear_then_build(self, pairs, how):
        """An emptied map refilled from a batch in key order is built at
        once (live iterators go on over the new keys)."""
        items = sorted({self.key(t): self.value() for t in pairs}.items())
        self.m.clear()
        self.model.clear()
        if how == "pairs":
            self.m.update(items)
        elif how == "dict":
            self.m.update(dict(items))
        else:
            self.m = type(self.m).fromkeys([k for k, _ in items], "fk")
            self.iters = []
            items = [(k, "fk") for k, _ in items]
        self.model.update(items)

    @rule(t=texts, codes=st.sets(st.integers(0, 255), min_size=1, max_size=80))
    def bulk_insert(self, t, codes):
        """Many siblings below one prefix: nodes grow up to Node256."""
        for c in sorted(codes):
            k, v = self.key(t + chr(c)), self.value()
            self.m[k] = v
            self.model[k] = v

    @rule(t=texts, keep=st.integers(0, 5))
    def delete_prefix(self, t, keep):
        """Deletes all but `keep` keys under a prefix: nodes shrink, merge."""
        prefix = self.key(t)
        doomed = sorted(k for k in self.model if k.startswith(prefix))[keep:]
        for k in doomed:
            del self.m[k]
            del self.model[k]

    @rule(
        t=texts,
        n=st.integers(1, 8),
        op=st.sampled_from(["set", "delete", "pop", "copy", "build"]),
    )
    def failing_allocation(self, t, n, op):
        """With the n-th allocation failing, an operation either succeeds or
        raises MemoryError and leaves the map as it was."""
        k, v = self.key(t), self.value()
        if op in ("delete", "pop") and self.model:
            # Prefer a present key: deleting it may rebuild nodes.
            present = sorted(self.model)
            k = present[n % len(present)]
        before = list(self.m.items())
        self.m._fail_alloc(n)
        try:
            if op == "set":
                self.m[k] = v
                self.model[k] = v
            elif op == "delete":
                if k in self.model:
                    del self.m[k]
                    del self.model[k]
            elif op == "pop":
                assert self.m.pop(k, "dflt") == self.model.pop(k, "dflt")
            elif op == "copy":
                c = self.m.copy()
                assert c == self.model
                assert c._validate() is None
            else:
                c = type(self.m)()
                c._fail_alloc(n)
                try:
                    c.update(sorted(self.model.items()))
                except MemoryError:
                    assert len(c) == 0 and c._validate() is None
                else:
                    # Done with fewer allocations than n: the comparison
                    # must not meet the failure still armed.
                    c._fail_alloc(0)
                    assert c == self.model and c._validate() is None
        except MemoryError:
            assert list(self.m.items()) == before
        finally:
            self.m._fail_alloc(0)

    @rule()
    def clear(self):
        self.m.clear()
        self.model.clear()

    # ----------------------------------------------------------------- reads

    @rule(t=texts)
    def get(self, t):
        k = self.key(t)
        assert self.m.get(k) == self.model.get(k)
        assert self.m.get(k, "dflt") == self.model.get(k, "dflt")
        if k in self.model:
            assert self.m[k] == self.model[k]

    @rule(t=texts)
    def contains(self, t):
        k = self.key(t)
        assert (k in self.m) == (k in self.model)
        assert (k in self.m.keys()) == (k in self.model)

    @rule(t=texts)
    def copy_and_compare(self, t):
        c = self.m.copy()
        assert type(c) is self.kind.cls
        assert c == self.model
        assert c._validate() is None
        assert list(c.items()) == sorted(self.model.items())
        # The copy is independent in both directions.
        c[self.key(t)] = "only in copy"
        c.pop(next(iter(c)))
        assert self.m == self.model
        assert c._validate() is None

    @rule(t=texts)
    def or_operator(self, t):
        k, v = self.key(t), self.value()
        r = self.m | {k: v}
        expected = dict(self.model)
        expected[k] = v
        assert type(r) is self.kind.cls
        assert r == expected
        assert r._validate() is None
        assert self.m == self.model

    # ------------------------------------------------------------- iterators

    @precondition(lambda self: len(self.iters) < 4)
    @rule(mode=st.sampled_from(MODES))
    def start_iterator(self, mode):
        self.iters.append([_make_iter(self.m, mode), mode, None, False])

    @precondition(lambda self: self.iters)
    @rule(which=st.integers(0, 3), steps=st.integers(1, 3))
    def advance_iterator(self, which, steps):
        entry = self.iters[which % len(self.iters)]
        it, mode, last, exhausted = entry
        reverse = mode.endswith("rev")
        for _ in range(steps):
            if exhausted:
                want = None
            elif reverse:
                smaller = [k for k in self.model if last is None or k < last]
                want = max(smaller) if smaller else None
            else:
                larger = [k for k in self.model if last is None or k > last]
                want = min(larger) if larger else None
            try:
                element = next(it)
            except StopIteration:
                assert want is None, f"iterator ended early; expected {want!r}"
                exhausted = True
                continue
            assert want is not None, f"iterator yielded {element!r} after the end"
            if mode.startswith("values"):
                assert element == self.model[want]
            elif mode.startswith("items"):
                assert element == (want, self.model[want])
            else:
                assert element == want
            last = want
        entry[2], entry[3] = last, exhausted

    @precondition(lambda self: self.iters)
    @rule(which=st.integers(0, 3))
    def drop_iterator(self, which):
        del self.iters[which % len(self.iters)]

    # ------------------------------------------------------------ invariants

    @invariant()
    def same_contents(self):
        assert len(self.m) == len(self.model)
        assert bool(self.m) == bool(self.model)
        ordered = sorted(self.model)
        assert list(self.m) == ordered
        assert list(reversed(self.m)) == ordered[::-1]
        assert list(self.m.items()) == [(k, self.model[k]) for k in ordered]

    @invariant()
    def valid_tree(self):
        assert self.m._validate() is None


class TreeMapMachine(MapMachine):
    kind = KINDS[0]


class BytesTreeMapMachine(MapMachine):
    kind = KINDS[1]


STATEFUL_SETTINGS = settings(max_examples=150, stateful_step_count=50, deadline=None)

TestTreeMapMachine = TreeMapMachine.TestCase
TestTreeMapMachine.settings = STATEFUL_SETTINGS
TestBytesTreeMapMachine = BytesTreeMapMachine.TestCase
TestBytesTreeMapMachine.settings = STATEFUL_SETTINGS


def test_machines_cover_both_types():
    assert TreeMapMachine.kind.cls.__name__ == "TreeMap"
    assert BytesTreeMapMachine.kind.cls.__name__ == "BytesTreeMap"
    with pytest.raises(TypeError):
        TreeMapMachine.kind.cls()[BytesTreeMapMachine.kind.k("a")] = 1
