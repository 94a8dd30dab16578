"""fuzzy_search's variants (transpositions, prefix) and closest().

* hypothesis properties against brute force: an optimal string alignment
  distance and a plain Levenshtein one, each over code points for
  TreeMap and bytes for BytesTreeMap, minimised over the key's prefixes
  for prefix=True, on keys from tiny alphabets with multi-byte, astral
  characters and a lone surrogate, and distances 0-3;
* closest() against a full sort of every key by (distance, key), with
  and without a bound, for every n from 0 to past the map's size;
* the iterators changed while they walk (weak consistency, as every
  iterator of the map), FrozenTreeMap, worked examples and wrong
  arguments.
"""

import signal
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blart import BytesTreeMap, FrozenTreeMap, TreeMap

PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# "é" and "è" share their lead byte; "😀" is astral (4 bytes); the lone
# surrogate is stored as TreeMap stores it (surrogatepass).
STR_SYMBOLS = ["a", "b", "c", "é", "è", "日", "\U0001f600", "\ud800"]
BYTES_SYMBOLS = [b"a", b"b", b"c", b"\x00", b"\xc3", b"\xa9", b"\xff"]


class Kind:
    def __init__(self, cls, symbols, empty):
        self.cls = cls
        self.empty = empty
        self.keys = st.lists(st.sampled_from(symbols), max_size=6).map(empty.join)


KINDS = [Kind(TreeMap, STR_SYMBOLS, ""), Kind(BytesTreeMap, BYTES_SYMBOLS, b"")]
kinds = pytest.mark.parametrize("kind", KINDS, ids=["TreeMap", "BytesTreeMap"])


def distance(key, query, transpositions=False, prefix=False):
    """Edit distance of key to query from the whole matrix: Levenshtein,
    or optimal string alignment (an adjacent swap costs 1 and no
    substring is edited twice); with prefix the least over the key's
    prefixes, the empty one included.  Sequences of code points or
    bytes, as indexing the key gives them."""
    a, b = list(key), list(query)
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i]
        for j in range(1, len(b) + 1):
            v = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if transpositions and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, rows[i - 2][j - 2] + 1)
            row.append(v)
        rows.append(row)
    if prefix:
        return min(r[-1] for r in rows)
    return rows[-1][-1]


def build(data, kind, max_size=40):
    keys = data.draw(st.lists(kind.keys, max_size=max_size, unique=True))
    model = {k: i for i, k in enumerate(keys)}
    m = kind.cls()
    for k in keys:
        m[k] = model[k]
    return m, model


def probe(data, kind, model):
    """A query: random, or a stored key, maybe with one edit."""
    if model and data.draw(st.booleans()):
        q = data.draw(st.sampled_from(sorted(model)))
        if q and data.draw(st.booleans()):
            i = data.draw(st.integers(0, len(q) - 1))
            q = q[:i] + q[i + 1 :]
        return q
    return data.draw(kind.keys)


def expected_search(model, q, d, transpositions, prefix):
    out = []
    for k in sorted(model):
        dist = distance(k, q, transpositions, prefix)
        if dist <= d:
            out.append((k, model[k], dist))
    return out


def expected_closest(model, q, n, max_distance, transpositions):
    scored = [(distance(k, q, transpositions), k) for k in model]
    scored = [(dist, k) for dist, k in scored if max_distance is None or dist <= max_distance]
    return [(k, model[k], dist) for dist, k in sorted(scored)[:n]]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@kinds
@PROPS
@given(data=st.data())
def test_fuzzy_variants_match_brute_force(kind, data):
    m, model = build(data, kind)
    for _ in range(3):
        q = probe(data, kind, model)
        d = data.draw(st.integers(0, 3))
        t = data.draw(st.booleans())
        p = data.draw(st.booleans())
        got = list(m.fuzzy_search(q, d, transpositions=t, prefix=p))
        assert got == expected_search(model, q, d, t, p), (q, d, t, p)


@kinds
@PROPS
@given(data=st.data())
def test_closest_matches_a_full_sort(kind, data):
    m, model = build(data, kind)
    for _ in range(3):
        q = probe(data, kind, model)
        n = data.draw(st.integers(0, len(model) + 2))
        bound = data.draw(st.sampled_from([None, 0, 1, 2, 3]))
        t = data.draw(st.booleans())
        got = m.closest(q, n, max_distance=bound, transpositions=t)
        assert got == expected_closest(model, q, n, bound, t), (q, n, bound, t)


@kinds
@settings(PROPS, max_examples=60)
@given(data=st.data())
def test_closest_every_key_when_n_is_the_size(kind, data):
    m, model = build(data, kind)
    q = data.draw(kind.keys)
    got = m.closest(q, len(model) + data.draw(st.integers(0, 5)))
    assert got == expected_closest(model, q, len(model), None, False)
    assert sorted(k for k, _, _ in got) == sorted(model)


@kinds
@settings(PROPS, max_examples=80)
@given(data=st.data())
def test_fuzzy_variants_mutated_while_walking(kind, data):
    """After yielding k the search goes on with the first match > k among
    the keys present then, whatever changed."""
    m, model = build(data, kind)
    q = probe(data, kind, model)
    d = data.draw(st.integers(0, 2))
    t, p = data.draw(st.booleans()), data.draw(st.booleans())
    it = m.fuzzy_search(q, d, transpositions=t, prefix=p)
    last = None
    for _ in range(60):
        want = [x for x in expected_search(model, q, d, t, p) if last is None or x[0] > last]
        got = next(it, None)
        if not want:
            assert got is None
            break
        assert got == want[0]
        last = got[0]
        for _ in range(data.draw(st.integers(0, 3))):
            k = data.draw(kind.keys)
            if k in model and data.draw(st.booleans()):
                del m[k]
                del model[k]
            else:
                m[k] = model[k] = data.draw(st.integers())


# ---------------------------------------------------------------------------
# Examples
# ---------------------------------------------------------------------------


WORDS = ["receive", "recieve", "relieve", "recipe", "deceive", "rec", "ca", "ac", "abc"]


def test_transpositions_count_a_swap_once():
    m = TreeMap.fromkeys(WORDS, 0)
    plain = {k: d for k, _, d in m.fuzzy_search("recieve", 2)}
    swap = {k: d for k, _, d in m.fuzzy_search("recieve", 2, transpositions=True)}
    assert plain["receive"] == 2 and swap["receive"] == 1
    assert "deceive" not in plain  # 3 edits: "r" -> "d" and two for the swap
    assert swap["deceive"] == 2
    # Optimal string alignment: "ca" -> "abc" is 3 (Damerau-Levenshtein
    # proper, editing between the swapped pair, would say 2).
    assert dict((k, d) for k, _, d in m.fuzzy_search("ca", 3, transpositions=True))["abc"] == 3


def test_prefix_is_search_as_you_type():
    m = TreeMap.fromkeys(WORDS, 0)
    got = list(m.fuzzy_search("reci", 1, prefix=True))
    assert [(k, d) for k, _, d in got] == [
        ("rec", 1),
        ("receive", 1),
        ("recieve", 0),
        ("recipe", 0),
        ("relieve", 1),
    ]
    assert [k for k, _, _ in m.fuzzy_search("", 0, prefix=True)] == sorted(WORDS)
    # "rceie" is one swap from "recie", a prefix of "recieve" (and two
    # edits from every prefix of "receive").
    assert [k for k, _, _ in m.fuzzy_search("rceie", 1, prefix=True, transpositions=True)] == [
        "recieve"
    ]


def test_code_points_and_bytes():
    m = TreeMap.fromkeys(["日本", "本日", "\U0001f600a"], 0)
    assert [(k, d) for k, _, d in m.fuzzy_search("本日", 1, transpositions=True)] == [
        ("日本", 1),
        ("本日", 0),
    ]
    assert m.closest("a\U0001f600", 1, transpositions=True) == [("\U0001f600a", 0, 1)]
    b = BytesTreeMap.fromkeys(["日本".encode(), b"ba"], 0)
    # Bytes: swapping the two 3-byte characters is not one edit.
    assert list(b.fuzzy_search("本日".encode(), 1, transpositions=True)) == []
    assert b.closest(b"ab", 5, transpositions=True) == [(b"ba", 0, 1), ("日本".encode(), 0, 6)]


def test_closest_examples():
    m = TreeMap({"apple": 1, "apply": 2, "ample": 3, "maple": 4, "zebra": 5})
    assert m.closest("appel") == [("apple", 1, 2)]
    assert m.closest("appel", 3, transpositions=True) == [
        ("apple", 1, 1),
        ("ample", 3, 2),
        ("apply", 2, 2),
    ]
    assert m.closest("appel", 10, max_distance=2) == [("apple", 1, 2), ("apply", 2, 2)]
    assert m.closest("appel", 0) == []
    assert m.closest("zzzzzzzzzz", 1) == [("zebra", 5, 9)]
    assert TreeMap().closest("a", 3) == []
    assert m.closest("apple", n=2) == [("apple", 1, 0), ("ample", 3, 1)]
    assert m.closest("apple", 2**100) == sorted(
        [(k, v, distance(k, "apple")) for k, v in m.items()], key=lambda x: (x[2], x[0])
    )


def test_closest_far_query_long_keys():
    # The bound doubles past 8: a query hundreds of edits from every key.
    keys = ["x" * i for i in range(1, 40)]
    m = TreeMap.fromkeys(keys, 0)
    q = "y" * 300
    assert m.closest(q, 3) == [("x", 0, 300), ("xx", 0, 300), ("xxx", 0, 300)]
    assert m.closest("x" * 300, 2) == [("x" * 39, 0, 261), ("x" * 38, 0, 262)]


def test_frozen_map(tmp_path):
    m = TreeMap.fromkeys(WORDS, 7)
    path = tmp_path / "w.blart"
    m.save(path)
    f = FrozenTreeMap(path)
    for q in ("recieve", "reci", "ac", ""):
        for t in (False, True):
            assert f.closest(q, 4, transpositions=t) == m.closest(q, 4, transpositions=t)
            for p in (False, True):
                assert list(f.fuzzy_search(q, 2, transpositions=t, prefix=p)) == list(
                    m.fuzzy_search(q, 2, transpositions=t, prefix=p)
                )


def test_values_are_the_stored_objects():
    v = object()
    m = TreeMap({"ab": v})
    ((_, got, d),) = m.closest("ba", transpositions=True)
    assert got is v and d == 1
    before = sys.getrefcount(v)
    for _ in range(100):
        m.closest("ba", 5)
    assert sys.getrefcount(v) == before


def test_closest_sees_a_change_made_by_a_signal_handler():
    """A handler that changes the map, run between the search's slices
    (or between calls): every answer is the map's before or after the
    change, and once the change is made every answer has it."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("no setitimer on this platform")
    m = TreeMap.fromkeys(("w%06d" % i for i in range(200_000)), 0)
    q = "z" * 33
    old_answer = m.closest(q, 2)
    fired = []

    def handler(signum, frame):
        if not fired:
            m[q] = "new"
        fired.append(1)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            assert m.closest(q, 2) == old_answer or fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert fired
    assert m.closest(q, 2) == [(q, "new", 0), old_answer[0]]


def test_closest_is_interruptible():
    m = TreeMap.fromkeys(("k%07d" % i for i in range(300_000)), 0)

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            for _ in range(1000):
                m.closest("q" * 40, 300_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------
# Wrong arguments
# ---------------------------------------------------------------------------


def test_wrong_arguments():
    m = TreeMap.fromkeys(["a"], 0)
    b = BytesTreeMap.fromkeys([b"a"], 0)
    with pytest.raises(TypeError, match="n must be an int"):
        m.closest("a", 1.0)
    with pytest.raises(TypeError, match="n must be an int"):
        m.closest("a", "1")
    with pytest.raises(ValueError, match="n must be >= 0"):
        m.closest("a", -1)
    with pytest.raises(ValueError, match="n must be >= 0"):
        m.closest("a", -(2**100))
    with pytest.raises(TypeError, match="max_distance must be an int or None"):
        m.closest("a", 1, max_distance=1.5)
    with pytest.raises(ValueError, match="max_distance must be >= 0"):
        m.closest("a", 1, max_distance=-1)
    with pytest.raises(TypeError):
        m.closest("a", 1, 2)  # max_distance is keyword-only
    with pytest.raises(TypeError):
        m.closest(key="a")  # key is positional-only
    with pytest.raises(TypeError):
        m.closest(b"a")
    with pytest.raises(TypeError):
        b.closest("a")
    with pytest.raises(TypeError):
        m.fuzzy_search("a", 1, True)  # the flags are keyword-only
    with pytest.raises(TypeError, match="transpositions"):
        m.fuzzy_search("a", 1, transpositions="yes")
    with pytest.raises(TypeError, match="prefix"):
        m.fuzzy_search("a", 1, prefix=None)
    with pytest.raises(TypeError, match="transpositions"):
        m.closest("a", transpositions=1.0)
    with pytest.raises(TypeError):
        m.fuzzy_search("a", 1, prefixes=True)
    assert m.closest("a", True) == [("a", 0, 0)]  # a bool is an int, as for list.index
    assert list(m) == ["a"]
