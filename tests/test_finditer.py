"""finditer: the stored keys inside a text.

* hypothesis properties against brute force (for each position, each key
  with ``text.startswith(key, i)``) in all four modes, with texts and keys
  from tiny alphabets holding multi-byte, astral, non-ASCII word
  characters and a lone surrogate, so matches share lead bytes and
  offsets in code points differ from offsets in bytes;
* the same scans with the map changed after every match, against a
  reference that takes one step at a time on the model as it is then;
* bytes-like texts, FrozenTreeMap, wrong arguments, a 10 MB text and a
  1 MB key, and allocation behaviour of a long scan.
"""

import gc
import re
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blart import BytesTreeMap, FrozenTreeMap, TreeMap

PROPS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# "é", "日" and the Arabic-Indic digit "٣" are word characters (isalnum);
# "😀", "-", " " and the lone surrogate are not.  "é" and "è" share their
# lead byte.
STR_SYMBOLS = ["a", "b", " ", "_", "-", "é", "è", "日", "٣", "\U0001f600", "\ud800"]
# 0xC3 and 0xA9 are the bytes of "é": a bytes map judges words by ASCII only.
BYTES_SYMBOLS = [b"a", b"b", b" ", b"_", b"\x00", b"\xc3", b"\xa9", b"\xff"]
MODES = [(False, False), (True, False), (False, True), (True, True)]


def is_word(ch):
    """The word rule of the issue: str.isalnum() or '_' for str; ASCII
    letters, digits and '_' for a byte (an int)."""
    if isinstance(ch, int):
        return ch < 128 and (chr(ch).isalnum() or ch == ord("_"))
    return ch.isalnum() or ch == "_"


def candidates(model, text, i, whole_words):
    """The keys that count at position i, shortest first."""
    n = len(text)
    if whole_words and i > 0 and is_word(text[i - 1]):
        return []
    found = []
    for key in model:
        if not key or not text.startswith(key, i):
            continue
        end = i + len(key)
        if whole_words and end < n and is_word(text[end]):
            continue
        found.append(key)
    return sorted(found, key=len)


def reference(model, text, overlapping, whole_words):
    """Every match, by brute force."""
    out = []
    i = 0
    while i < len(text):
        keys = candidates(model, text, i, whole_words)
        if overlapping:
            out += [(i, i + len(k), k, model[k]) for k in keys]
            i += 1
        elif keys:
            k = keys[-1]
            out.append((i, i + len(k), k, model[k]))
            i += len(k)
        else:
            i += 1
    return out


class Stepper:
    """The reference one match at a time, over whatever the model holds
    when it is asked: the rule a scan follows while its map changes."""

    def __init__(self, text, overlapping, whole_words):
        self.text, self.overlapping, self.whole = text, overlapping, whole_words
        self.pos, self.min_len = 0, 1

    def next(self, model):
        text = self.text
        while self.pos < len(text):
            keys = [
                k for k in candidates(model, text, self.pos, self.whole) if len(k) >= self.min_len
            ]
            if keys:
                i = self.pos
                if self.overlapping:
                    k = keys[0]
                    self.min_len = len(k) + 1
                else:
                    k = keys[-1]
                    self.pos += len(k)
                return (i, i + len(k), k, model[k])
            self.pos += 1
            self.min_len = 1
        return None


class Kind:
    def __init__(self, cls, symbols):
        self.cls = cls
        self.is_bytes = cls is BytesTreeMap
        empty = b"" if self.is_bytes else ""
        self.keys = st.lists(st.sampled_from(symbols), max_size=4).map(empty.join)
        self.texts = st.lists(st.sampled_from(symbols), max_size=40).map(empty.join)


KINDS = [Kind(TreeMap, STR_SYMBOLS), Kind(BytesTreeMap, BYTES_SYMBOLS)]
kinds = pytest.mark.parametrize("kind", KINDS, ids=["TreeMap", "BytesTreeMap"])


def draw(data, kind):
    keys = data.draw(st.lists(kind.keys, max_size=25))
    model = {k: i for i, k in enumerate(keys)}
    return kind.cls(model), model


@kinds
@PROPS
@given(data=st.data())
def test_every_mode_matches_brute_force(kind, data):
    m, model = draw(data, kind)
    text = data.draw(kind.texts)
    for overlapping, whole_words in MODES:
        got = list(m.finditer(text, overlapping=overlapping, whole_words=whole_words))
        assert got == reference(model, text, overlapping, whole_words), (
            overlapping,
            whole_words,
        )
        for start, end, key, _ in got:
            assert text[start:end] == key
            assert type(key) is type(text)


@PROPS
@given(data=st.data())
def test_bytes_like_texts(data):
    kind = KINDS[1]
    m, model = draw(data, kind)
    text = data.draw(kind.texts)
    want = reference(model, text, False, False)
    assert list(m.finditer(bytearray(text))) == want
    assert list(m.finditer(memoryview(text))) == want
    # A slice of a larger buffer: offsets are the slice's.
    padded = memoryview(b"\x01" + text + b"\x01")[1:-1]
    assert list(m.finditer(padded)) == want


@kinds
@settings(PROPS, max_examples=120)
@given(data=st.data())
def test_changes_while_scanning(kind, data):
    m, model = draw(data, kind)
    text = data.draw(kind.texts)
    overlapping, whole_words = data.draw(st.sampled_from(MODES))
    it = m.finditer(text, overlapping=overlapping, whole_words=whole_words)
    ref = Stepper(text, overlapping, whole_words)
    changes = data.draw(st.lists(st.tuples(st.booleans(), kind.keys), max_size=30))
    for step in range(len(text) * 3 + 2):
        want = ref.next(model)
        assert next(it, None) == want, step
        if want is None:
            break
        if step < len(changes):
            add, key = changes[step]
            if add:
                m[key] = model[key] = 1000 + step
            else:
                m.pop(key, None)
                model.pop(key, None)
    assert next(it, None) is None
    m._validate()


def test_examples():
    m = TreeMap({"he": 1, "her": 2, "here": 3, "she": 4, "hers": 5})
    assert list(m.finditer("ushers")) == [(1, 4, "she", 4)]
    assert [k for _, _, k, _ in m.finditer("ushers", overlapping=True)] == [
        "she",
        "he",
        "her",
        "hers",
    ]
    assert list(m.finditer("her.", whole_words=True)) == [(0, 3, "her", 2)]
    assert list(m.finditer("hers_", whole_words=True)) == []
    # Offsets are code points, whatever the UTF-8 length of what precedes.
    m = TreeMap({"日本": 1, "😀": 2, "é": 3})
    text = "😀日本 é"
    assert list(m.finditer(text)) == [(0, 1, "😀", 2), (1, 3, "日本", 1), (4, 5, "é", 3)]
    # "é" is a word character for str: not a whole word inside "éé".
    assert list(m.finditer("éé é", whole_words=True)) == [(3, 4, "é", 3)]
    # For bytes, only ASCII letters, digits and "_" are word characters.
    b = BytesTreeMap({b"ab": 1})
    assert list(b.finditer(b"\xc3ab\xff_ab", whole_words=True)) == [(1, 3, b"ab", 1)]


def test_the_empty_key_never_matches():
    m = TreeMap({"": 0, "a": 1})
    assert list(m.finditer("ba", overlapping=True)) == [(1, 2, "a", 1)]
    assert list(TreeMap({"": 0}).finditer("abc", overlapping=True)) == []
    assert list(m.finditer("")) == []


def test_lone_surrogates_in_text_and_keys():
    m = TreeMap({"\ud800": 1, "a\udfff": 2})
    text = "x\ud800a\udfff\ud800"
    assert list(m.finditer(text)) == [
        (1, 2, "\ud800", 1),
        (2, 4, "a\udfff", 2),
        (4, 5, "\ud800", 1),
    ]


def test_frozen_tree_map(tmp_path):
    m = TreeMap({"new york": 1, "york": 2, "new": 3, "ork": 4})
    path = tmp_path / "terms.blart"
    m.save(path)
    text = "new york, new yorkshire"
    f = FrozenTreeMap(path)
    for overlapping, whole_words in MODES:
        kw = dict(overlapping=overlapping, whole_words=whole_words)
        assert list(f.finditer(text, **kw)) == list(m.finditer(text, **kw))
    assert list(m.finditer(text, whole_words=True)) == [(0, 8, "new york", 1), (10, 13, "new", 3)]


def test_bytes_frozen_tree_map(tmp_path):
    m = BytesTreeMap({b"\x00\xff": 1, b"\xff": 2})
    path = tmp_path / "bytes.blart"
    m.save(path)
    f = FrozenTreeMap(path)
    assert list(f.finditer(b"\x00\xff\xff")) == [(0, 2, b"\x00\xff", 1), (2, 3, b"\xff", 2)]
    with pytest.raises(TypeError, match="bytes-like"):
        f.finditer("text")


def test_wrong_arguments():
    m = TreeMap({"a": 1})
    b = BytesTreeMap({b"a": 1})
    with pytest.raises(
        TypeError, match=re.escape("TreeMap.finditer() takes a str text, not bytes")
    ):
        m.finditer(b"a")
    with pytest.raises(TypeError, match="not int"):
        m.finditer(3)
    with pytest.raises(TypeError, match=r"bytes-like .*not str"):
        b.finditer("a")
    with pytest.raises(TypeError, match="not list"):
        b.finditer([1])
    with pytest.raises(TypeError):
        m.finditer()
    with pytest.raises(TypeError):
        m.finditer("a", True)  # the flags are keyword-only
    with pytest.raises(TypeError):
        m.finditer(text="a")  # text is positional-only
    with pytest.raises(TypeError, match="overlapping"):
        m.finditer("a", overlapping="yes")
    with pytest.raises(TypeError, match="whole_words"):
        m.finditer("a", whole_words=None)
    with pytest.raises(TypeError):
        m.finditer("a", other=True)
    # An int flag is accepted as sorted(reverse=...) accepts one.
    assert list(m.finditer("a", overlapping=1)) == [(0, 1, "a", 1)]


def test_iterator_protocol_and_laziness():
    m = TreeMap({"ab": 1})
    it = m.finditer("ab ab")
    assert iter(it) is it
    assert next(it) == (0, 2, "ab", 1)
    # Lazy: a key stored now is found in the rest of the text, and the
    # longest key at a position is the longest at the time.
    m[" a"] = 2
    assert next(it) == (2, 4, " a", 2)
    m["b"] = 3
    assert list(it) == [(4, 5, "b", 3)]
    assert list(it) == []  # exhausted stays exhausted
    m.clear()
    it = m.finditer("ab")
    assert list(it) == []


def test_a_bytearray_text_is_held_while_scanning():
    b = BytesTreeMap({b"x": 1})
    text = bytearray(b"axa")
    it = b.finditer(text)
    with pytest.raises(BufferError):
        text.extend(b"more")  # its buffer is in use
    assert list(it) == [(1, 2, b"x", 1)]
    del it
    text.extend(b"x")  # released with the iterator
    assert list(b.finditer(text)) == [(1, 2, b"x", 1), (3, 4, b"x", 1)]


def test_a_huge_text_and_a_huge_key():
    m = TreeMap({"abc": 1, "bc": 2})
    text = "abc " * (10_000_000 // 4)  # 10 MB
    count = 0
    for start, end, key, value in m.finditer(text):
        assert (start, end, key, value) == (4 * count, 4 * count + 3, "abc", 1)
        count += 1
    assert count == len(text) // 4
    big = "k" * 1_000_000
    m[big] = 3
    text = "x" + big + "kk"
    assert list(m.finditer(text)) == [(1, 1 + len(big), big, 3)]
    n = len(big)
    assert [(s, e) for s, e, _, _ in m.finditer(text, overlapping=True)] == [
        (1, 1 + n),
        (2, 2 + n),
        (3, 3 + n),
    ]
    b = BytesTreeMap({big.encode(): 1, b"k": 2})
    got = [(s, e) for s, e, _, _ in b.finditer(b"k" * (n + 1), overlapping=True)]
    assert got == [(0, 1), (0, n), (1, 2), (1, n + 1)] + [(i, i + 1) for i in range(2, n + 1)]


def test_no_allocation_per_character():
    """The walk itself allocates nothing: a long text with no match makes
    no Python allocation once the iterator exists."""
    m = TreeMap({"zzz": 1, "abcd": 2})
    text = "abc " * 250_000
    it = m.finditer(text)
    gc.collect()
    tracemalloc.start()
    try:
        assert list(it) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4096, peak
