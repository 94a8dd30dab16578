"""Helpers shared by the blart test modules (imported as a plain module)."""

from blart import BytesTreeMap, TreeMap


class Kind:
    """One of the two map types, with a way to turn text into its keys.

    Tests describe keys as Python text; ``k`` makes the key the map under
    test takes: the text itself for TreeMap, its UTF-8 encoding (surrogates
    passed through) for BytesTreeMap.  The encoding keeps code point order,
    so ``sorted`` of the texts and of the made keys agree.
    """

    def __init__(self, cls, is_bytes):
        self.cls = cls
        self.is_bytes = is_bytes
        self.name = cls.__name__
        self.type_name = "bytes" if is_bytes else "str"
        # A key of the other family: always a TypeError for this type.
        self.foreign_key = "a" if is_bytes else b"a"

    def k(self, text):
        if self.is_bytes:
            return text.encode("utf-8", "surrogatepass")
        return text

    def ks(self, texts):
        return [self.k(t) for t in texts]

    def d(self, mapping):
        """A dict whose text keys are made into this kind's keys."""
        return {self.k(t): v for t, v in mapping.items()}

    def new(self, mapping=None):
        if mapping is None:
            return self.cls()
        return self.cls(self.d(mapping))

    def __repr__(self):
        return self.name


KINDS = [Kind(TreeMap, False), Kind(BytesTreeMap, True)]
KIND_IDS = [k.name for k in KINDS]


def check_consistent(m, expected=None):
    """Checks that a map agrees with itself (and with ``expected``).

    Runs the C validator, then compares every way of reading the map with
    the others: length, forward and reverse iteration, views and lookups.
    """
    assert m._validate() is None
    keys = list(m)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert len(m) == len(keys)
    assert bool(m) == bool(keys)
    assert m.is_empty() == (not keys)
    assert list(reversed(m)) == keys[::-1]
    items = list(m.items())
    assert [k for k, _ in items] == keys
    values = list(m.values())
    assert len(values) == len(keys)
    for (key, value), value2 in zip(items, values):
        assert m[key] is value
        assert value2 is value
    if expected is not None:
        assert keys == sorted(expected)
        for key, value in expected.items():
            assert m[key] == value
    return keys
