"""Spelling suggestions with fuzzy (Levenshtein) search.

Run it with ``python examples/fuzzy_matching.py``.
"""

from blart import TreeMap

VOCABULARY = """
    a about accommodate achieve across address apple argument believe
    beginning business café calendar cat cave cemetery chat coat committee
    cut definitely environment existence foreign government grammar
    guarantee immediately independent interrupt knowledge library
    necessary neighbour noon occasion occurred occurrence possession receipt
    receive recipe recommend relieve reveal rhythm separate sieve the then
    they tomorrow truly until weird which will
"""

dictionary = TreeMap.fromkeys(VOCABULARY.split())


def suggest(word: str, max_distance: int = 2, limit: int = 3) -> list[tuple[str, int]]:
    """The closest words within ``max_distance`` edits, nearest first, then A-Z."""
    hits = sorted(
        (distance, key) for key, _, distance in dictionary.fuzzy_search(word, max_distance)
    )
    return [(key, distance) for distance, key in hits[:limit]]


# Check a sentence: known words pass, unknown ones get suggestions.  Note that
# Levenshtein distance counts swapping two letters ("teh") as two edits.
sentence = "teh comittee will recieve the adress tomorow unitl noon"
print(f"checking: {sentence!r}")
for word in sentence.split():
    if word in dictionary:
        continue
    suggestions = suggest(word)
    shown = ", ".join(f"{key} ({distance})" for key, distance in suggestions) or "no suggestion"
    print(f"  {word:<9} -> {shown}")

# fuzzy_search itself yields (key, value, distance) in key order.
print(
    "\nwithin 1 edit of 'cat':",
    [(key, distance) for key, _, distance in dictionary.fuzzy_search("cat", 1)],
)

# Widen the search only as far as needed: the cheapest useful query.
for word in ["seperate", "definately", "xylophone"]:
    for max_distance in range(4):
        found = suggest(word, max_distance, limit=1)
        if found:
            print(f"'{word}': best match {found[0][0]!r} at distance {max_distance}")
            break
    else:
        print(f"'{word}': nothing within 3 edits")

# Distances count code points, not UTF-8 bytes: "cafe" -> "café" is one edit.
print("'cafe' ->", suggest("cafe", 1))
