"""Python-level allocation failures inside every operation.

CPython's ``_testcapi.set_nomemory(start, stop)`` makes the allocations
numbered ``start`` to ``stop - 1`` fail (objects, buffers, raw memory; the
tree's own memory comes from malloc and is tested with ``_fail_alloc``).
Each operation is run with its n-th Python allocation failing, for every n
until it runs clean: it must either succeed or raise MemoryError, and leave
the map valid and either unchanged or completely updated.
"""

import copy
import os
import pickle

import pytest

from blart import BytesTreeMap, TreeMap

# CPython builds that leave out the test modules (--disable-test-modules,
# some distributions' packages) have no _testcapi.  A developer's
# interpreter may lack it and the tests skip; in CI (CI=true) every
# interpreter is one we set up to have it, so its absence fails each test
# instead of hiding them.
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
try:
    import _testcapi
except ImportError:
    if not IN_CI:
        pytest.skip("_testcapi is missing from this interpreter", allow_module_level=True)
    _testcapi = None


@pytest.fixture(autouse=True)
def _testcapi_present():
    if _testcapi is None:
        pytest.fail("CI=true but this interpreter has no _testcapi: the sweep cannot run")


LIMIT = 400  # no operation below makes this many Python allocations


def make(cls):
    k = (lambda s: s) if cls is TreeMap else (lambda s: s.encode())
    m = cls({k(s): i for i, s in enumerate(["a", "ab", "abc", "b", "ba", "é", "日本", "x" * 300])})
    return m, k


def operations(k):
    return {
        "getitem": lambda m: m[k("ab")],
        "get_missing": lambda m: m.get(k("zz"), 0),
        "contains": lambda m: k("b") in m,
        "setitem_new": lambda m: m.__setitem__(k("new"), [1]),
        "setitem_replace": lambda m: m.__setitem__(k("a"), [2]),
        "delitem": lambda m: m.__delitem__(k("ba")),
        "setdefault": lambda m: m.setdefault(k("sd"), 5),
        "pop": lambda m: m.pop(k("abc")),
        "pop_default": lambda m: m.pop(k("zz"), None),
        "popitem": lambda m: m.popitem(),
        "insert": lambda m: m.insert(k("ins"), 1),
        "remove": lambda m: m.remove(k("b")),
        "update_dict": lambda m: m.update({k("u1"): 1, k("u2"): 2}),
        "update_pairs": lambda m: m.update([(k("p1"), 1), (k("p2"), 2)]),
        "update_map": lambda m: m.update(type(m)({k("m1"): 1})),
        "ior": lambda m: m.__ior__({k("o1"): 1}),
        "or": lambda m: m | {k("o2"): 2},
        "ror": lambda m: {k("o3"): 3} | m,
        "copy": lambda m: m.copy(),
        "copy_module": lambda m: copy.copy(m),
        "deepcopy": lambda m: copy.deepcopy(m),
        "eq_dict": lambda m: m == dict(m.items()),
        "eq_map": lambda m: m == m.copy(),
        "repr": repr,
        "keys": lambda m: list(m.keys()),
        "values": lambda m: list(m.values()),
        "items": lambda m: list(m.items()),
        "reversed": lambda m: list(reversed(m.items())),
        "keys_and": lambda m: m.keys() & {k("a"), k("q")},
        "items_contains": lambda m: (k("a"), 0) in m.items(),
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
        "first_last": lambda m: (m.first(), m.last()),
        "pop_first_last": lambda m: (m.pop_first(), m.pop_last()),
        "navigation": lambda m: (
            m.floor(k("b")),
            m.ceiling(k("b")),
            m.lower(k("b")),
            m.higher(k("b")),
        ),
        "get_prefix": lambda m: m.get_prefix(k("a")),
        "prefix_iter": lambda m: list(m.prefix_iter(k("a"), reverse=True)),
        "prefixes": lambda m: list(m.prefixes(k("abcd"))),
        "longest_prefix": lambda m: m.longest_prefix(k("abcd")),
        "range": lambda m: list(m.range(k("a"), k("b"), inclusive=(True, True))),
        "fuzzy": lambda m: list(m.fuzzy_search(k("ab"), 1)),
        "fuzzy_variants": lambda m: list(
            m.fuzzy_search(k("ba"), 1, transpositions=True, prefix=True)
        ),
        "closest": lambda m: m.closest(k("abdc"), 3, transpositions=True),
        "finditer": lambda m: list(m.finditer(k("xabcd ab_a"), overlapping=True)),
        "finditer_words": lambda m: list(m.finditer(k("é abc a"), whole_words=True)),
        "stats": lambda m: m.stats(),
        "fromkeys": lambda m: type(m).fromkeys([k("f1"), k("f2")], 0),
        "constructor": lambda m: type(m)([(k("c1"), 1)]),
        "constructor_sorted": lambda m: type(m)({k("c1"): 1, k("c2"): 2, k("c3"): 3}),
        "fromkeys_unsorted": lambda m: type(m).fromkeys([k("f2"), k("f1")], 0),
    }


OPS = sorted(operations(str))
# Operations that must build Python objects, so the sweep surely reaches
# their error paths; the rest (lookups, deletes) may allocate nothing.
BUILDS_OBJECTS = {
    "copy",
    "deepcopy",
    "repr",
    "keys",
    "values",
    "items",
    "reversed",
    "pickle",
    "prefix_iter",
    "prefixes",
    "range",
    "fuzzy",
    "fuzzy_variants",
    "closest",
    "finditer",
    "finditer_words",
    "stats",
    "fromkeys",
    "constructor",
    "constructor_sorted",
    "fromkeys_unsorted",
    "first_last",
    "pop_first_last",
    "navigation",
    "popitem",
    "or",
    "keys_and",
}


@pytest.mark.parametrize("cls", [TreeMap, BytesTreeMap], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", OPS)
def test_python_allocation_failure(cls, name):
    failures = clean = 0
    fresh, k = make(cls)
    op = operations(k)[name]
    expected = op(fresh)
    # A clean run does not mean every allocation was reached: a failure may
    # be recovered from (CPython swallows some).  Stop after several clean
    # runs in a row, which only happens past the operation's allocations.
    for n in range(LIMIT):
        m, k = make(cls)
        before = dict(m.items())
        _testcapi.set_nomemory(n, n + 1)
        try:
            result = op(m)
        except MemoryError:
            failures += 1
            clean = 0
            failed = True
        else:
            failed = False
        finally:
            _testcapi.remove_mem_hooks()
        m._validate()
        after = dict(m.items())
        assert len(after) == len(m)
        if failed:
            # A failed operation changes at most the keys it was about.
            changed = {
                key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
            }
            assert len(changed) <= 2, (name, n, changed)
        else:
            # The failure was not reached, or was recovered from without
            # changing the answer.
            assert result == expected, (name, n)
            clean += 1
            if clean == 8:
                break
    else:
        raise AssertionError(f"{name} still failing after {LIMIT} allocations")
    if name in BUILDS_OBJECTS:
        assert failures >= 1, f"{name} made no Python allocation to fail"
