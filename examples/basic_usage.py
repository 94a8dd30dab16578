"""TreeMap basics: a dict whose keys stay sorted.

Run it with ``python examples/basic_usage.py``.
"""

from blart import BytesTreeMap, TreeMap

# Create it like a dict: from a mapping, from (key, value) pairs, or keywords.
stock = TreeMap({"pear": 4, "apple": 10}, banana=6)

# Create, read, update, delete: the dict operations, with dict semantics.
stock["cherry"] = 25
stock["apple"] += 2
print("stock:", stock)
print("apples:", stock["apple"], "| durians:", stock.get("durian", 0))
print("'pear' in stock:", "pear" in stock, "| len:", len(stock))

previous = stock.insert("pear", 5)  # like m[k] = v, but returns the old value
print("insert('pear', 5) replaced:", previous)
del stock["banana"]
print("pop('cherry'):", stock.pop("cherry"))
print("setdefault('fig', 0):", stock.setdefault("fig", 0))

# Iteration is in sorted key order, whatever the order of insertion.
stock.update([("kiwi", 3), ("date", 1)])
print("keys in order:", list(stock))
print("reversed:", list(reversed(stock)))
for name, count in stock.items():
    print(f"  {name:<6}{count:>3}")

# Being sorted answers questions a dict cannot answer without sorting first.
print("first, last:", stock.first(), stock.last())
print("around 'grape':", stock.floor("grape"), "<= 'grape' <=", stock.ceiling("grape"))
print("popitem() takes the largest key:", stock.popitem())

# Errors: a missing key is a KeyError; a key of the wrong type a TypeError.
try:
    stock["durian"]
except KeyError as exc:
    print("KeyError:", exc)
try:
    stock[42]  # type: ignore[index]
except TypeError as exc:
    print("TypeError:", exc)
try:
    stock.remove("durian")
except KeyError as exc:
    print("remove() of a missing key -> KeyError:", exc)

# BytesTreeMap takes bytes-like keys and orders them bytewise.
blobs: BytesTreeMap[str] = BytesTreeMap(
    [(b"\xff\x00", "high"), (bytearray(b"\x00\x01"), "low"), (b"", "empty")]
)
print("bytes keys:", list(blobs))
try:
    blobs["text"]  # type: ignore[index]
except TypeError as exc:
    print("TypeError:", exc)

stock.clear()
print("after clear():", stock, "| is_empty():", stock.is_empty())
