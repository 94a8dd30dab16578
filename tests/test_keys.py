"""Keys: accepted and rejected types, odd and large keys, ordering."""

import random
import threading
from bisect import bisect_left

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import check_consistent

from blart import BytesTreeMap, TreeMap

# --------------------------------------------------------------------------
# Wrong key types
# --------------------------------------------------------------------------

KEY_OPS = {
    "getitem": lambda m, k: m[k],
    "setitem": lambda m, k: m.__setitem__(k, 1),
    "setitem_syntax": lambda m, k: exec("m[k] = 1", {"m": m, "k": k}),
    "delitem": lambda m, k: m.__delitem__(k),
    "contains": lambda m, k: k in m,
    "get": lambda m, k: m.get(k),
    "get_default": lambda m, k: m.get(k, "d"),
    "setdefault": lambda m, k: m.setdefault(k, 1),
    "setdefault_no_default": lambda m, k: m.setdefault(k),
    "pop": lambda m, k: m.pop(k),
    "pop_default": lambda m, k: m.pop(k, "d"),
    "insert": lambda m, k: m.insert(k, 1),
    "remove": lambda m, k: m.remove(k),
    "fromkeys": lambda m, k: type(m).fromkeys([k]),
    "fromkeys_value": lambda m, k: type(m).fromkeys([k], 0),
    "update_dict": lambda m, k: m.update({k: 1}),
    "update_pairs": lambda m, k: m.update([(k, 1)]),
    "constructor_dict": lambda m, k: type(m)({k: 1}),
    "constructor_pairs": lambda m, k: type(m)([(k, 1)]),
    "or": lambda m, k: m | {k: 1},
    "ior": lambda m, k: m.__ior__({k: 1}),
}


# Operations that put the key in a dict first need a hashable bad key.
DICT_OPS = {"update_dict", "constructor_dict", "or", "ior"}


def bad_keys(kind, hashable):
    keys = [1, 2.5, None, (1,), object(), kind.foreign_key]
    if not kind.is_bytes:
        keys += [memoryview(b"a")]
        if not hashable:
            keys += [bytearray(b"a")]
    else:
        keys += [7j]
        if not hashable:
            keys += [["a"]]
    return keys


@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_wrong_key_type_raises_typeerror(kind, op):
    for bad in bad_keys(kind, hashable=op in DICT_OPS):
        m = kind.new({"a": 1, "b": 2})
        with pytest.raises(TypeError) as info:
            KEY_OPS[op](m, bad)
        message = str(info.value)
        assert kind.type_name in message, (bad, message)
        assert type(bad).__name__ in message, (bad, message)
        assert m == kind.d({"a": 1, "b": 2})
        check_consistent(m)


@pytest.mark.parametrize("op", ["getitem", "delitem", "pop", "remove"])
def test_missing_key_keyerror_carries_the_key(kind, op):
    fn = KEY_OPS[op]
    m = kind.new({"a": 1})
    keys = [kind.k("missing"), kind.k("a" + "b" * 3), kind.k("")]
    if kind.is_bytes:
        keys += [bytearray(b"zz"), memoryview(b"zz")]
    else:

        class S(str):
            pass

        keys.append(S("zz"))
    for key in keys:
        with pytest.raises(KeyError) as info:
            fn(m, key)
        assert len(info.value.args) == 1
        assert info.value.args[0] is key
    assert m == kind.d({"a": 1})


# --------------------------------------------------------------------------
# Accepted key types
# --------------------------------------------------------------------------


def test_str_subclass_keys_become_plain_str():
    class S(str):
        def __eq__(self, other):  # must not be consulted
            raise AssertionError("__eq__ called")

        __hash__ = str.__hash__

    m = TreeMap()
    m[S("b")] = 1
    m.insert(S("a"), 2)
    m.setdefault(S("c"), 3)
    m.update([(S("d"), 4)])
    m.update({S("e"): 5})
    for key in list(m) + list(m.keys()) + [k for k, _ in m.items()]:
        assert type(key) is str
    assert list(m) == ["a", "b", "c", "d", "e"]
    assert m[S("a")] == 2 and m["a"] == 2
    assert S("b") in m
    key, value = m.popitem()
    assert type(key) is str and (key, value) == ("e", 5)
    assert type(next(reversed(m))) is str
    assert type(TreeMap.fromkeys([S("x")]).popitem()[0]) is str
    check_consistent(m)


def test_bytes_like_keys_become_bytes():
    class B(bytes):
        pass

    m = BytesTreeMap()
    ba = bytearray(b"ab")
    m[ba] = 1
    m[memoryview(b"xcdx")[1:3]] = 2
    m[B(b"ef")] = 3
    m.insert(bytearray(b"gh"), 4)
    m.update({B(b"ij"): 5})
    ba[0] = ord("z")  # the stored key is a copy
    assert list(m) == [b"ab", b"cd", b"ef", b"gh", b"ij"]
    for key in list(m) + list(m.keys()) + [k for k, _ in m.items()]:
        assert type(key) is bytes
    assert m[b"ab"] == 1
    assert m[bytearray(b"cd")] == 2
    assert m[memoryview(b"ef")] == 3
    assert memoryview(b"gh") in m
    assert bytearray(b"zb") not in m
    del m[bytearray(b"ab")]
    assert m.pop(memoryview(b"cd")) == 2
    key, value = m.popitem()
    assert type(key) is bytes and (key, value) == (b"ij", 5)
    assert list(m) == [b"ef", b"gh"]
    check_consistent(m)


# --------------------------------------------------------------------------
# Odd keys and values
# --------------------------------------------------------------------------


def test_unicode_and_emoji_keys(kind):
    texts = [
        "é",
        "e\u0301",
        "日本",
        "日本語",
        "ß",
        "ẞ",
        "\U0001f600",
        "\U0001f600\U0001f601",
        "\U0001f469\u200d\U0001f4bb",
        "Ω",
        "a",
        "z",
        "\u0800",
        "\u07ff",
        "\uffff",
        "\U00010000",
        "\U0010ffff",
    ]
    m = kind.cls()
    for i, t in enumerate(texts):
        m[kind.k(t)] = i
    assert list(m) == sorted(kind.ks(texts))
    for i, t in enumerate(texts):
        assert m[kind.k(t)] == i
    if not kind.is_bytes:
        assert list(m) == sorted(texts)  # code point order
    check_consistent(m)


def test_nul_bytes_in_keys(kind):
    texts = ["a\x00b", "a", "a\x00", "\x00", "\x00\x00", "", "ab", "a\x00\x00", "b\x00"]
    m = kind.cls({kind.k(t): t for t in texts})
    assert len(m) == len(texts)
    assert list(m) == kind.ks(
        ["", "\x00", "\x00\x00", "a", "a\x00", "a\x00\x00", "a\x00b", "ab", "b\x00"]
    )
    for t in texts:
        assert m[kind.k(t)] == t
    del m[kind.k("a\x00")]
    assert kind.k("a\x00") not in m
    assert kind.k("a\x00b") in m and kind.k("a") in m
    check_consistent(m)


def test_lone_surrogate_keys_treemap():
    texts = [
        "\ud800",
        "\udfff",
        "\ud800\udc00",
        "\U00010000",
        "\ud7ff",
        "\ue000",
        "a\udcff",
        "a",
        "\udc80",
        "\ud83d\ude00",
        "\U0001f600",
    ]
    m = TreeMap()
    for i, t in enumerate(texts):
        m[t] = i
    assert len(m) == len(texts)
    assert list(m) == sorted(texts)
    for i, t in enumerate(texts):
        assert m[t] == i
    # A pair of lone surrogates stays two code points, not one astral one.
    keys = list(m)
    assert "\ud800\udc00" in keys and "\U00010000" in keys
    assert [len(k) for k in keys if k.startswith("\ud800")] == [1, 2]
    assert list(reversed(m)) == sorted(texts, reverse=True)
    del m["\ud800"]
    assert "\ud800\udc00" in m and "\ud800" not in m
    check_consistent(m)


def test_every_byte_value_bytestreemap():
    m = BytesTreeMap()
    order = list(range(256))
    random.Random(5).shuffle(order)
    for b in order:
        m[bytes([b])] = b
        m[bytes([b, 255 - b])] = -b
    assert list(m) == sorted(m.keys())
    assert list(m)[:3] == [b"\x00", b"\x00\xff", b"\x01"]
    assert list(m)[-1] == b"\xff\x00"
    assert m[b"\xff"] == 255 and m[b"\x80\x7f"] == -128
    # Invalid UTF-8 is an ordinary bytes key.
    m[b"\xc3\x28\xff\xfe"] = "bad utf8"
    assert m[b"\xc3\x28\xff\xfe"] == "bad utf8"
    check_consistent(m)
    for b in order:
        del m[bytes([b])]
        if b % 16 == 0:
            check_consistent(m)
    assert len(m) == 257
    check_consistent(m)


def test_node_growth_and_shrink(kind):
    """Enough siblings under one node to need every node size, then none."""
    rng = random.Random(11)
    for prefix in ("", "p", "pre\x00fix"):
        # More than 128 distinct first bytes below the prefix (ASCII plus
        # UTF-8 lead bytes): Node4, 16, 48 and 256 are all needed.
        points = list(range(0x80)) + list(range(0x80, 0x3000, 37))
        texts = [prefix + chr(i) + "s" for i in points] + [prefix]
        rng.shuffle(texts)
        m = kind.cls()
        expected = {}
        for i, t in enumerate(texts):
            m[kind.k(t)] = i
            expected[kind.k(t)] = i
            if i % 23 == 0:
                check_consistent(m, expected)
        check_consistent(m, expected)
        rng.shuffle(texts)
        for i, t in enumerate(texts):
            del m[kind.k(t)]
            del expected[kind.k(t)]
            if i % 23 == 0:
                check_consistent(m, expected)
        assert m.is_empty()
        check_consistent(m)


def test_empty_key(kind):
    e = kind.k("")
    m = kind.cls()
    m[e] = "empty"
    assert m[e] == "empty" and e in m and len(m) == 1
    assert list(m) == [e]
    m[kind.k("a")] = 1
    m[kind.k("\x00")] = 0
    assert list(m) == [e, kind.k("\x00"), kind.k("a")]
    assert next(iter(m)) == e
    assert list(reversed(m))[-1] == e
    check_consistent(m)
    del m[e]
    assert e not in m
    assert m.get(e) is None
    m[e] = 5
    del m[kind.k("a")], m[kind.k("\x00")]
    assert m.popitem() == (e, 5)
    assert m.is_empty()
    assert m.setdefault(e, 3) == 3
    assert m.pop(e) == 3
    check_consistent(m)


def test_none_and_varied_values(kind):
    class Thing:
        pass

    values = [
        None,
        0,
        False,
        "",
        b"",
        [],
        {},
        (),
        1.5,
        float("nan"),
        Thing(),
        Thing,
        kind.cls(),
        10**100,
        "str value",
        frozenset({1}),
    ]
    m = kind.cls()
    for i, v in enumerate(values):
        m[kind.k(f"k{i:02d}")] = v
    for i, v in enumerate(values):
        assert m[kind.k(f"k{i:02d}")] is v
        assert m.get(kind.k(f"k{i:02d}"), "dflt") is v
    assert all(a is b for a, b in zip(m.values(), values))
    none_key = kind.k("k00")
    assert none_key in m
    assert m.setdefault(none_key, "x") is None
    assert m[none_key] is None
    assert m.pop(none_key, "x") is None
    assert none_key not in m
    check_consistent(m)


# --------------------------------------------------------------------------
# Big keys and big maps
# --------------------------------------------------------------------------


def test_one_mebibyte_keys(kind):
    mib = 1 << 20
    big = "x" * mib
    rnd = random.Random(3)
    noisy = "".join(rnd.choices("ab日\x00", k=mib))
    texts = [big, big[:-1] + "y", big[:-1], big + "z", "x", big[: mib // 2], noisy]
    m = kind.cls()
    for i, t in enumerate(texts):
        m[kind.k(t)] = i
    assert len(m) == len(texts)
    for i, t in enumerate(texts):
        assert m[kind.k(t)] == i
    keys = list(m)
    assert keys == sorted(kind.ks(texts))
    assert len(keys[-1]) >= mib
    assert kind.k(big[:-2]) not in m
    assert kind.k(big[:-1] + "w") not in m
    check_consistent(m)
    del m[kind.k(big)]
    assert kind.k(big[:-1]) in m and kind.k(big + "z") in m
    assert m.pop(kind.k(noisy)) == len(texts) - 1
    check_consistent(m)
    m.clear()
    check_consistent(m)


def run_with_small_stack(fn):
    """Runs fn in a thread whose stack is 512 KiB; re-raises its error."""
    failure = []

    def target():
        try:
            fn()
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)

    old = threading.stack_size(512 * 1024)
    try:
        thread = threading.Thread(target=target)
        thread.start()
    finally:
        threading.stack_size(old)
    thread.join()
    if failure:
        raise failure[0]


N_CHAIN = 20_000


def test_prefix_chain_does_not_recurse(kind):
    """20,000 keys, each a prefix of the next, on a small stack."""
    import gc

    base_text = ("ab日\x00é\U0001f600" * N_CHAIN)[: 2 * N_CHAIN]
    base = kind.k(base_text)
    # Key i has length i (in code points or bytes): k_0 < k_1 < ...
    keys_at = lambda i: base[:i]  # noqa: E731
    assert len(base) >= N_CHAIN

    def work():
        order = list(range(N_CHAIN))
        random.Random(1).shuffle(order)
        m = kind.cls()
        half = N_CHAIN // 2
        for i in range(half):  # ascending: the deepest shape at once
            m[keys_at(i)] = i
        for i in order:  # then the rest in random order: prefix splits
            if i >= half:
                m[keys_at(i)] = i
        assert len(m) == N_CHAIN
        assert m._validate() is None
        for i in order:
            assert m[keys_at(i)] == i
        assert keys_at(N_CHAIN) not in m
        count = 0
        for i, (key, value) in enumerate(m.items()):
            assert value == i
            assert len(key) == i
            assert key == keys_at(i)
            count += 1
        assert count == N_CHAIN
        count = 0
        for j, key in enumerate(reversed(m)):
            assert len(key) == N_CHAIN - 1 - j
            count += 1
        assert count == N_CHAIN
        assert sum(1 for _ in m.values()) == N_CHAIN
        c = m.copy()
        assert c._validate() is None
        assert len(c) == N_CHAIN
        assert c == m
        del c  # destroys a deep tree
        gc.collect()  # traverses a deep tree
        for _ in range(100):
            key, value = m.popitem()
            assert len(key) == value and value == len(m)
        remaining = N_CHAIN - 100
        for i in order:
            if i < remaining:
                del m[keys_at(i)]
        assert len(m) == 0
        assert m._validate() is None
        for i in range(N_CHAIN):
            m[keys_at(i)] = i
        m2 = m.copy()
        m2.clear()  # clears a deep tree
        del m  # deallocates a full deep tree

    run_with_small_stack(work)


def test_large_map_against_dict(kind):
    n = 200_000
    rng = random.Random(2024)
    alphabet = "abcdxyz\x00é日\U0001f600"
    model = {}
    m = kind.cls()
    for i in range(n):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        key = kind.k(text)
        m[key] = i
        model[key] = i
    assert len(m) == len(model)
    ordered = sorted(model)
    assert list(m) == ordered
    assert list(reversed(m.keys())) == ordered[::-1]
    assert m == model
    assert all(m[key] == value for key, value in model.items())
    assert m._validate() is None
    for key in ordered[::2]:
        assert m.pop(key) == model.pop(key)
    assert len(m) == len(model)
    assert list(m.items()) == sorted(model.items())
    assert m._validate() is None
    c = m.copy()
    m.clear()
    assert c == model
    assert m.is_empty()


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

any_char = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(["\x00", "a", "é", "日", "\U0001f600"]),
)
any_text = st.text(any_char, max_size=6)


@given(texts=st.lists(any_text, max_size=40))
def test_order_is_sorted_order(kind, texts):
    m = kind.cls()
    for i, t in enumerate(texts):
        m[kind.k(t)] = i
    expected = {kind.k(t): i for i, t in enumerate(texts)}
    assert list(m) == sorted(expected)
    if not kind.is_bytes:
        assert list(m) == sorted(set(texts))
    assert list(m.items()) == sorted(expected.items())
    assert m._validate() is None
    for t in texts[::2]:
        m.pop(kind.k(t), None)
        expected.pop(kind.k(t), None)
    check_consistent(m, expected)


@given(keys=st.lists(st.binary(max_size=6), max_size=40), data=st.data())
def test_bytes_order_is_bytewise(keys, data):
    m = BytesTreeMap()
    for i, key in enumerate(keys):
        m[key] = i
    assert list(m) == sorted(set(keys))
    probe = data.draw(st.binary(max_size=6))
    assert (probe in m) == (probe in keys)
    check_consistent(m, {key: i for i, key in enumerate(keys)})


@pytest.mark.parametrize("seed", range(4))
def test_random_keys_with_long_shared_prefixes(kind, seed):
    """Long common prefixes of varied length: path compression is split,
    extended and merged again, while a few iterators stay parked."""
    rng = random.Random(seed)
    stems = ["", "x" * 7, "x" * 8 + "é", "q" * 20, "日" * 12, "\x00" * 9]

    def rand_text():
        body = "".join(rng.choice("ab") for _ in range(rng.randint(0, 30)))
        return rng.choice(stems) + body

    model = {}
    m = kind.cls()
    parked = []
    for step in range(6000):
        text = rand_text()
        key = kind.k(text)
        if rng.random() < 0.6:
            model[key] = m[key] = step
        else:
            if key in model:
                assert m.pop(key) == model.pop(key)
            if step % 50 == 0:
                # A run of neighbours too, emptying whole subtrees.
                ordered = sorted(model)
                for near in ordered[bisect_left(ordered, key) :][:5]:
                    del m[near]
                    del model[near]
        if step % 500 == 0:
            it = iter(m)
            first = next(it, None)
            parked.append((it, first))
        if step % 250 == 0:
            check_consistent(m, model)
    check_consistent(m, model)
    for it, last in parked:
        if last is None:
            continue
        larger = [k for k in model if k > last]
        want = min(larger) if larger else None
        assert next(it, None) == want
