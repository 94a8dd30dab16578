"""A two-minute tour of blart, run by `make demo`."""

from blart import BytesTreeMap, TreeMap

m = TreeMap({"banana": 3, "apple": 1, "cherry": 7})
m["apricot"] = 2
m["app"] = 0  # a key that is a prefix of other keys: all of them stay
print("sorted iteration:  ", list(m))
print("dict-like access:  ", m["apple"], m.get("durian", "-"), "app" in m)
print("largest popped:    ", m.popitem())
print("reversed keys:     ", list(reversed(m)))
print("items view:        ", m.items())

b = BytesTreeMap({b"\x00\xff": "binary", b"": "empty key"})
print("bytes keys:        ", b)

# Iterators are weakly consistent: mutating the map mid-walk is allowed.
it = iter(m)
first = next(it)
m["zebra"] = 26
del m["banana"]
print("after mutation:    ", [first, *it])
