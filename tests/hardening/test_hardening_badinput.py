"""Bad input everywhere: every method given every wrong type.

Each call must raise TypeError, ValueError or OverflowError (BufferError
for a buffer that is not contiguous, as every CPython buffer consumer
does), with a message that names what was expected or the argument, and
leave the map exactly as it was (items, shape, validity), without keeping
a reference to anything it was given.
"""

import sys

import pytest
from support import KINDS

from blart import BytesTreeMap, TreeMap

ALLOWED = (TypeError, ValueError, OverflowError)


class Opaque:
    """An arbitrary object: no buffer, not iterable, not a number."""


WRONG = {
    "None": None,
    "int": 1,
    "float": 1.5,
    "list": [1],
    "object": Opaque(),
    "bigint": 10**100,
}
WRONG_TYPE_NAME = {
    "None": "NoneType",
    "int": "int",
    "float": "float",
    "list": "list",
    "object": "Opaque",
    "bigint": "int",
}


def snapshot(m):
    return list(m.items()), m.stats(), len(m)


def sample_map(kind):
    texts = ["", "a", "ab", "abc", "b", "é", "日本"] + [chr(0x30 + i) for i in range(20)]
    return kind.cls({kind.k(t): i for i, t in enumerate(texts)})


def check_error(m, before, fn, words, exc=ALLOWED):
    """fn(m) must raise one of exc whose message contains every word of one
    of the alternatives in `words`; m must be unchanged."""
    with pytest.raises(exc) as info:
        fn(m)
    message = str(info.value)
    # Drop the exception here: its traceback refers to this frame, and the
    # frame to `info`, a cycle that would keep the arguments alive.
    del info
    assert any(all(w in message for w in alt) for alt in words), (
        f"unclear message {message!r}, expected one of {words}"
    )
    m._validate()
    assert snapshot(m) == before


# --------------------------------------------------------------------------
# Keys of the wrong type, in every method that takes a key
# --------------------------------------------------------------------------

KEY_CALLS = {
    "getitem": lambda m, key: m[key],
    "setitem": lambda m, key: m.__setitem__(key, "v"),
    "delitem": lambda m, key: m.__delitem__(key),
    "contains": lambda m, key: key in m,
    "get": lambda m, key: m.get(key),
    "get_default": lambda m, key: m.get(key, "default"),
    "setdefault": lambda m, key: m.setdefault(key, "v"),
    "pop": lambda m, key: m.pop(key),
    "pop_default": lambda m, key: m.pop(key, "default"),
    "insert": lambda m, key: m.insert(key, "v"),
    "remove": lambda m, key: m.remove(key),
    "floor": lambda m, key: m.floor(key),
    "ceiling": lambda m, key: m.ceiling(key),
    "lower": lambda m, key: m.lower(key),
    "higher": lambda m, key: m.higher(key),
    "get_prefix": lambda m, key: m.get_prefix(key),
    "longest_prefix": lambda m, key: m.longest_prefix(key),
    "prefix_iter": lambda m, key: m.prefix_iter(key),
    "prefix_iter_reverse": lambda m, key: m.prefix_iter(key, reverse=True),
    "prefixes": lambda m, key: m.prefixes(key),
    "range_start": lambda m, key: m.range(key),
    "range_stop": lambda m, key: m.range(None, key),
    "range_stop_keyword": lambda m, key: m.range(stop=key, reverse=True),
    "fuzzy_search": lambda m, key: m.fuzzy_search(key, 1),
    "keys_contains": lambda m, key: key in m.keys(),
    "update_pair": lambda m, key: m.update([(key, "v")]),
    "update_dict": lambda m, key: (
        m.update({key: "v"}) if _hashable(key) else m.update([(key, "v")])
    ),
    "ior_pair": lambda m, key: m.__ior__([(key, "v")]),
    "constructor_pair": lambda m, key: type(m)([(key, "v")]),
    "fromkeys": lambda m, key: type(m).fromkeys([key]),
    "or_dict": lambda m, key: m | {key: 1} if _hashable(key) else m | _PairsMapping(key),
}


def _hashable(x):
    try:
        hash(x)
    except TypeError:
        return False
    return True


class _PairsMapping:
    """A mapping with an unhashable key (keys() and __getitem__ only)."""

    def __init__(self, key):
        self.key = key

    def keys(self):
        return [self.key]

    def __getitem__(self, key):
        return 1


import collections.abc  # noqa: E402

collections.abc.Mapping.register(_PairsMapping)

RANGE_ACCEPTS_NONE = {"range_start", "range_stop", "range_stop_keyword"}


def wrong_keys(kind):
    keys = dict(WRONG)
    keys["foreign"] = kind.foreign_key  # bytes for TreeMap, str for BytesTreeMap
    # A key-like object of the other family.
    keys["other_family"] = bytearray(b"a") if not kind.is_bytes else type("S", (str,), {})("a")
    keys["tuple"] = ("a",)
    return keys


WRONG_KEY_IDS = sorted(set(WRONG) | {"foreign", "other_family", "tuple"})


@pytest.mark.parametrize("call", sorted(KEY_CALLS))
@pytest.mark.parametrize("which", WRONG_KEY_IDS)
def test_wrong_key_type(kind, call, which):
    key = wrong_keys(kind)[which]
    m = sample_map(kind)
    before = snapshot(m)
    if key is None and call in RANGE_ACCEPTS_NONE:
        # None leaves a range side open: not an error.
        expected = reversed(m.items()) if call == "range_stop_keyword" else m.items()
        assert list(KEY_CALLS[call](m, key)) == list(expected)
        return
    refs = sys.getrefcount(key)
    expected = "bytes-like" if kind.is_bytes else "str"
    check_error(
        m,
        before,
        lambda m: KEY_CALLS[call](m, key),
        [(kind.name, expected, type(key).__name__)],
        exc=TypeError,
    )
    if which not in ("None", "int", "foreign"):  # shared objects: counts move
        assert sys.getrefcount(key) == refs, "the rejected key is still referenced"


def test_items_contains_with_wrong_key_is_false(kind):
    """A set-like items view answers False for what cannot be an item."""
    m = sample_map(kind)
    before = snapshot(m)
    for bad in list(WRONG.values()) + [kind.foreign_key]:
        assert ((bad, 1) in m.items()) is False
        assert (bad in m.items()) is False
    assert ((kind.k("a"), 1, 2) in m.items()) is False
    assert snapshot(m) == before


def test_non_contiguous_buffer_key():
    m = BytesTreeMap({b"ac": 1})
    before = snapshot(m)
    strided = memoryview(b"abcd")[::2]
    for fn in (
        lambda m: m[strided],
        lambda m: m.__setitem__(strided, 1),
        lambda m: m.get(strided),
        lambda m: m.prefix_iter(strided),
        lambda m: m.range(strided),
        lambda m: m.fuzzy_search(strided, 1),
    ):
        check_error(m, before, fn, [("contiguous",)], exc=BufferError)


def test_released_memoryview_key():
    m = BytesTreeMap({b"a": 1})
    before = snapshot(m)
    view = memoryview(b"a")
    view.release()
    for fn in (
        lambda m: m[view],
        lambda m: m.__setitem__(view, 1),
        lambda m: view in m,
        lambda m: m.floor(view),
    ):
        check_error(m, before, fn, [("released",)], exc=ValueError)


# --------------------------------------------------------------------------
# fuzzy_search's max_distance
# --------------------------------------------------------------------------

BAD_DISTANCES = {
    "None": (None, TypeError, ("max_distance", "int", "NoneType")),
    "float": (1.0, TypeError, ("max_distance", "int", "float")),
    "str": ("1", TypeError, ("max_distance", "int", "str")),
    "list": ([1], TypeError, ("max_distance", "int", "list")),
    "object": (Opaque(), TypeError, ("max_distance", "int", "Opaque")),
    "negative": (-1, ValueError, ("max_distance", ">= 0")),
    "huge_negative": (-(10**100), ValueError, ("max_distance", ">= 0")),
}


@pytest.mark.parametrize("which", sorted(BAD_DISTANCES))
@pytest.mark.parametrize("keyword", [False, True])
def test_fuzzy_bad_max_distance(kind, which, keyword):
    value, exc, words = BAD_DISTANCES[which]
    m = sample_map(kind)
    before = snapshot(m)
    if keyword:
        fn = lambda m: m.fuzzy_search(kind.k("a"), max_distance=value)  # noqa: E731
    else:
        fn = lambda m: m.fuzzy_search(kind.k("a"), value)  # noqa: E731
    check_error(m, before, fn, [words], exc=exc)


@pytest.mark.parametrize("distance", [2**31, 2**32, 2**63, 2**64, 10**100])
def test_fuzzy_huge_distance_means_any(kind, distance):
    """A non-negative distance larger than any key means "every key"."""
    m = sample_map(kind)
    got = list(m.fuzzy_search(kind.k("abc"), distance))
    assert [k for k, _, _ in got] == list(m)
    assert [v for _, v, _ in got] == list(m.values())
    m._validate()


def test_fuzzy_bool_and_int_subclass_distance(kind):
    class Small(int):
        pass

    m = sample_map(kind)
    assert list(m.fuzzy_search(kind.k("ab"), True)) == list(m.fuzzy_search(kind.k("ab"), 1))
    assert list(m.fuzzy_search(kind.k("ab"), Small(1))) == list(m.fuzzy_search(kind.k("ab"), 1))
    assert list(m.fuzzy_search(kind.k("ab"), 0)) == [(kind.k("ab"), m[kind.k("ab")], 0)]


# --------------------------------------------------------------------------
# Flags and bounds: reverse, inclusive
# --------------------------------------------------------------------------

WRONG_FLAGS = {"None": None, "float": 1.5, "list": [1], "object": Opaque(), "str": "yes"}


@pytest.mark.parametrize("method", ["prefix_iter", "range"])
def test_reverse_must_be_a_bool(kind, method):
    """reverse= takes a bool (ints allowed, as sorted() allows them):
    sorted() and list.sort() reject None, floats, lists, str and other
    objects, and so must these, rather than guess from their truth value."""
    m = sample_map(kind)
    before = snapshot(m)
    for bad in WRONG_FLAGS.values():
        call = {
            "prefix_iter": lambda m: m.prefix_iter(kind.k("a"), reverse=bad),
            "range": lambda m: m.range(kind.k("a"), reverse=bad),
        }[method]
        check_error(m, before, call, [("reverse",), ("integer",), ("bool",)], exc=TypeError)


def test_reverse_accepts_bools_and_ints(kind):
    m = sample_map(kind)
    forward = list(m.prefix_iter(kind.k("a")))
    assert list(m.prefix_iter(kind.k("a"), reverse=True)) == forward[::-1]
    assert list(m.prefix_iter(kind.k("a"), reverse=1)) == forward[::-1]
    assert list(m.prefix_iter(kind.k("a"), reverse=0)) == forward
    assert list(m.range(reverse=1)) == list(reversed(m.items()))


BAD_INCLUSIVE = {
    "None": None,
    "bool": True,
    "int": 1,
    "float": 1.5,
    "list": [True, False],
    "object": Opaque(),
    "short": (True,),
    "long": (True, False, True),
    "str": "ab",
}


@pytest.mark.parametrize("which", sorted(BAD_INCLUSIVE))
def test_inclusive_must_be_a_pair(kind, which):
    m = sample_map(kind)
    before = snapshot(m)
    bad = BAD_INCLUSIVE[which]
    check_error(
        m,
        before,
        lambda m: m.range(kind.k("a"), kind.k("b"), inclusive=bad),
        [("inclusive", "tuple")],
        exc=TypeError,
    )


def test_inclusive_items_must_be_bools(kind):
    """The message says "a tuple of two bools": (None, [1]) is not one."""
    m = sample_map(kind)
    before = snapshot(m)
    for bad in WRONG_FLAGS.values():
        for pair in ((bad, True), (True, bad)):
            check_error(
                m,
                before,
                lambda m: m.range(kind.k("a"), kind.k("b"), inclusive=pair),
                [("inclusive",), ("bool",), ("integer",)],
                exc=TypeError,
            )
    # Ints are fine, as for reverse=.
    assert list(m.range(kind.k("a"), kind.k("b"), inclusive=(1, 0))) == list(
        m.range(kind.k("a"), kind.k("b"))
    )


def test_inclusive_item_whose_truth_raises(kind):
    class NoBool:
        def __bool__(self):
            raise ValueError("no truth value")

    m = sample_map(kind)
    before = snapshot(m)
    check_error(
        m,
        before,
        lambda m: m.range(kind.k("a"), inclusive=(NoBool(), True)),
        [("truth",), ("bool",), ("inclusive",)],
        exc=ALLOWED,
    )


# --------------------------------------------------------------------------
# Constructor, update, |=, fromkeys: wrong sources
# --------------------------------------------------------------------------

NOT_ITERABLE = {"int": 1, "float": 1.5, "object": Opaque()}


@pytest.mark.parametrize("which", sorted(NOT_ITERABLE))
@pytest.mark.parametrize("api", ["constructor", "update", "ior", "fromkeys"])
def test_source_not_iterable(kind, which, api):
    bad = NOT_ITERABLE[which]
    m = sample_map(kind)
    before = snapshot(m)
    call = {
        "constructor": lambda m: type(m)(bad),
        "update": lambda m: m.update(bad),
        "ior": lambda m: m.__ior__(bad),
        "fromkeys": lambda m: type(m).fromkeys(bad),
    }[api]
    check_error(m, before, call, [(type(bad).__name__, "iterable")], exc=TypeError)


def test_none_as_source(kind):
    """update(None) and the constructor's None mean "nothing", like the
    stub says; |= None and fromkeys(None) are errors, as for dict."""
    m = sample_map(kind)
    before = snapshot(m)
    m.update(None)
    assert len(type(m)(None)) == 0
    assert snapshot(m) == before
    check_error(m, before, lambda m: m.__ior__(None), [("NoneType",)], exc=TypeError)
    check_error(
        m, before, lambda m: type(m).fromkeys(None), [("NoneType", "iterable")], exc=TypeError
    )


BAD_ELEMENTS = {
    "int": (1, TypeError, ("element #0", "sequence")),
    "None": (None, TypeError, ("element #0", "sequence")),
    "object": (Opaque(), TypeError, ("element #0", "sequence")),
    "short": (("k",), ValueError, ("element #0", "length 1", "2")),
    "long": (("k", 1, 2), ValueError, ("element #0", "length 3", "2")),
    "empty": ((), ValueError, ("element #0", "length 0", "2")),
}


@pytest.mark.parametrize("which", sorted(BAD_ELEMENTS))
@pytest.mark.parametrize("api", ["constructor", "update", "ior"])
def test_bad_pair_elements(kind, which, api):
    element, exc, words = BAD_ELEMENTS[which]
    if isinstance(element, tuple) and element:
        element = (kind.k(element[0]),) + element[1:]
    m = sample_map(kind)
    before = snapshot(m)
    call = {
        "constructor": lambda m: type(m)([element]),
        "update": lambda m: m.update([element]),
        "ior": lambda m: m.__ior__([element]),
    }[api]
    check_error(m, before, call, [(kind.name,) + words], exc=exc)


def test_bad_element_after_good_ones_keeps_the_good_ones(kind):
    """As for dict.update: items before the bad one stay applied."""
    m = sample_map(kind)
    expected = dict(m)
    with pytest.raises(ValueError, match="element #2"):
        m.update([(kind.k("n1"), 1), (kind.k("n2"), 2), (kind.k("n3"),)])
    expected.update({kind.k("n1"): 1, kind.k("n2"): 2})
    m._validate()
    assert dict(m) == expected
    with pytest.raises(TypeError, match="element #1"):
        m.update([(kind.k("n4"), 4), 5])
    expected[kind.k("n4")] = 4
    assert dict(m) == expected
    m._validate()


def test_too_many_positional_sources(kind):
    m = sample_map(kind)
    before = snapshot(m)
    check_error(
        m, before, lambda m: m.update({}, {}), [("update", "at most 1", "2")], exc=TypeError
    )
    check_error(
        m, before, lambda m: m.__init__({}, {}), [(kind.name, "at most 1", "2")], exc=TypeError
    )
    check_error(
        m, before, lambda m: type(m)({}, {}), [(kind.name, "at most 1", "2")], exc=TypeError
    )


def test_bytes_map_rejects_keyword_items():
    m = sample_map(KINDS[1])
    before = snapshot(m)
    check_error(m, before, lambda m: m.update(a=1), [("bytes-like", "str")], exc=TypeError)
    check_error(m, before, lambda m: BytesTreeMap(a=1), [("bytes-like", "str")], exc=TypeError)


def test_map_of_the_other_kind_as_source(kind):
    other_cls = BytesTreeMap if kind.cls is TreeMap else TreeMap
    other = other_cls({KINDS[1 if other_cls is BytesTreeMap else 0].k("zz"): 1})
    m = sample_map(kind)
    before = snapshot(m)
    for call in (
        lambda m: m.update(other),
        lambda m: m.__ior__(other),
        lambda m: type(m)(other),
        lambda m: m | other,
        lambda m: other | m,
    ):
        check_error(m, before, call, [("keys must be",)], exc=TypeError)


@pytest.mark.parametrize("which", sorted(WRONG))
def test_or_with_non_mapping(kind, which):
    bad = WRONG[which]
    m = sample_map(kind)
    before = snapshot(m)
    check_error(m, before, lambda m: m | bad, [("|", kind.name)], exc=TypeError)
    check_error(m, before, lambda m: bad | m, [("|", kind.name)], exc=TypeError)
    # A list of pairs is no mapping for |, like dict.
    check_error(m, before, lambda m: m | [(kind.k("a"), 1)], [("|",)], exc=TypeError)


@pytest.mark.parametrize("which", sorted(WRONG))
def test_comparisons_with_wrong_types(kind, which):
    bad = WRONG[which]
    m = sample_map(kind)
    before = snapshot(m)
    assert (m == bad) is False and (m != bad) is True
    for op in ("__lt__", "__le__", "__gt__", "__ge__"):
        check_error(
            m,
            before,
            lambda m: getattr(__import__("operator"), op)(m, bad),
            [("not supported",)],
            exc=TypeError,
        )
    check_error(m, before, lambda m: m < m, [("not supported",)], exc=TypeError)
    check_error(m, before, lambda m: hash(m), [("unhashable",)], exc=TypeError)


# --------------------------------------------------------------------------
# Argument counts and names
# --------------------------------------------------------------------------

NO_ARG_METHODS = [
    "popitem",
    "clear",
    "copy",
    "__copy__",
    "keys",
    "values",
    "items",
    "first",
    "last",
    "pop_first",
    "pop_last",
    "stats",
    "is_empty",
    "__reversed__",
    "__reduce__",
    "__sizeof__",
]


@pytest.mark.parametrize("method", NO_ARG_METHODS)
@pytest.mark.parametrize("which", ["None", "int", "object"])
def test_methods_without_arguments_reject_one(kind, method, which):
    m = sample_map(kind)
    before = snapshot(m)
    check_error(
        m,
        before,
        lambda m: getattr(m, method)(WRONG[which]),
        [(method, "no arguments")],
        exc=TypeError,
    )


ONE_ARG_METHODS = [
    "remove",
    "floor",
    "ceiling",
    "lower",
    "higher",
    "get_prefix",
    "prefixes",
    "longest_prefix",
]


@pytest.mark.parametrize("method", ONE_ARG_METHODS)
def test_one_argument_methods_reject_zero_and_two(kind, method):
    m = sample_map(kind)
    before = snapshot(m)
    check_error(
        m, before, lambda m: getattr(m, method)(), [(method, "one argument")], exc=TypeError
    )
    check_error(
        m,
        before,
        lambda m: getattr(m, method)(kind.k("a"), kind.k("b")),
        [(method, "one argument")],
        exc=TypeError,
    )
    check_error(
        m, before, lambda m: getattr(m, method)(key=kind.k("a")), [(method,)], exc=TypeError
    )


@pytest.mark.parametrize("method", ["get", "setdefault", "pop"])
def test_key_default_methods_arguments(kind, method):
    m = sample_map(kind)
    before = snapshot(m)
    f = lambda m: getattr(m, method)  # noqa: E731
    check_error(m, before, lambda m: f(m)(), [(method, "0 arguments")], exc=TypeError)
    check_error(
        m, before, lambda m: f(m)(kind.k("zz"), 1, 2), [(method, "3 arguments")], exc=TypeError
    )
    check_error(m, before, lambda m: f(m)(kind.k("zz"), 1, default=2), [(method,)], exc=TypeError)
    check_error(m, before, lambda m: f(m)(kind.k("zz"), dflt=2), [(method, "dflt")], exc=TypeError)
    check_error(m, before, lambda m: f(m)(key=kind.k("zz")), [(method,)], exc=TypeError)


def test_insert_argument_count(kind):
    m = sample_map(kind)
    before = snapshot(m)
    check_error(m, before, lambda m: m.insert(), [("insert", "2 arguments", "0")], exc=TypeError)
    check_error(
        m, before, lambda m: m.insert(kind.k("zz")), [("insert", "2 arguments", "1")], exc=TypeError
    )
    check_error(
        m,
        before,
        lambda m: m.insert(kind.k("zz"), 1, 2),
        [("insert", "2 arguments", "3")],
        exc=TypeError,
    )


def test_query_argument_names_and_counts(kind):
    m = sample_map(kind)
    before = snapshot(m)
    a = kind.k("a")
    cases = [
        (lambda m: m.prefix_iter(), ("prefix_iter", "prefix")),
        (lambda m: m.prefix_iter(a, True), ("prefix_iter", "positional")),
        (lambda m: m.prefix_iter(a, backwards=True), ("backwards",)),
        (lambda m: m.range(a, a, (True, True)), ("range", "positional")),
        (lambda m: m.range(a, a, True), ("range", "positional")),
        (lambda m: m.range(begin=a), ("begin",)),
        (lambda m: m.fuzzy_search(a), ("fuzzy_search", "max_distance")),
        (lambda m: m.fuzzy_search(), ("fuzzy_search", "key")),
        (lambda m: m.fuzzy_search(a, 1, 2), ("fuzzy_search", "3")),
        (lambda m: m.fuzzy_search(a, distance=1), ("distance",)),
        (lambda m: type(m).fromkeys(), ("fromkeys", "iterable")),
        (lambda m: type(m).fromkeys([a], 1, 2), ("fromkeys", "3")),
        (lambda m: type(m).fromkeys([a], val=1), ("val",)),
    ]
    for call, words in cases:
        check_error(m, before, call, [words], exc=TypeError)


# --------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["int", "float", "None", "object"])
def test_view_set_operations_with_non_iterables(kind, which):
    bad = WRONG[which]
    m = sample_map(kind)
    before = snapshot(m)
    name = type(bad).__name__
    for view in ("keys", "items"):
        for op in ("__and__", "__or__", "__xor__", "__sub__", "__rsub__", "isdisjoint"):
            check_error(
                m,
                before,
                lambda m: getattr(getattr(m, view)(), op)(bad),
                [(name, "iterable"), ("unsupported",)],
                exc=TypeError,
            )
    assert (m.keys() == bad) is False and (m.items() != bad) is True


def test_views_take_no_arguments_and_cannot_be_made(kind):
    m = sample_map(kind)
    before = snapshot(m)
    for view in (m.keys(), m.values(), m.items()):
        check_error(
            m, before, lambda m: type(view)(m), [("cannot create",), ("instances",)], exc=TypeError
        )
        check_error(m, before, lambda m: view.__reversed__(1), [("no arguments",)], exc=TypeError)
    check_error(
        m, before, lambda m: type(iter(m))(), [("cannot create",), ("instances",)], exc=TypeError
    )


def test_keys_view_contains_wrong_type(kind):
    m = sample_map(kind)
    before = snapshot(m)
    for bad in WRONG.values():
        check_error(m, before, lambda m: bad in m.keys(), [("keys must be",)], exc=TypeError)
    # values() compares with ==: anything may be looked for.
    assert all((bad in m.values()) is (bad == 1) for bad in WRONG.values())


# --------------------------------------------------------------------------
# Nothing half-done: values given with a rejected key are not kept
# --------------------------------------------------------------------------


def test_rejected_calls_keep_no_reference_to_their_values(kind):
    value = Opaque()
    refs = sys.getrefcount(value)
    m = sample_map(kind)
    before = snapshot(m)
    for bad in list(WRONG.values()) + [kind.foreign_key]:
        for call in (
            lambda: m.__setitem__(bad, value),
            lambda: m.insert(bad, value),
            lambda: m.setdefault(bad, value),
            lambda: m.update([(bad, value)]),
            lambda: m.get(bad, value),
            lambda: m.pop(bad, value),
            lambda: type(m).fromkeys([bad], value),
        ):
            with pytest.raises(TypeError):
                call()
    assert sys.getrefcount(value) == refs
    assert snapshot(m) == before
    m._validate()
