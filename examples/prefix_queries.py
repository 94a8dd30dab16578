"""Autocomplete over a word list with prefix queries.

Uses /usr/share/dict/words when the system has it, else a small built-in
list.  Run it with ``python examples/prefix_queries.py``.
"""

from itertools import islice
from pathlib import Path

from blart import TreeMap

SYSTEM_WORDS = Path("/usr/share/dict/words")
BUILT_IN_WORDS = """
    a an and ant antelope anteater antenna anthem anthill anthology
    i ice idea if in inch include index ink input inside instead int
    intact integer integral intend intense intent inter interact interaction interest interesting interface interior
    internal internet interpret interpreter interval interview into
    pre precise predict prefer prefix prepare present preserve press
    the theater theatre their them theme then theory there therefore
    these thesis they thin thing think under understand understanding
    understands undertake zebra zero zest zone zoo
"""


def load_words() -> tuple[list[str], str]:
    """The words to complete, and where they came from."""
    try:
        text = SYSTEM_WORDS.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return BUILT_IN_WORDS.split(), "the built-in list"
    return [line for line in text.splitlines() if line], str(SYSTEM_WORDS)


def complete(index: TreeMap[None], prefix: str, limit: int = 5) -> list[str]:
    """The first ``limit`` words starting with ``prefix``, in sorted order."""
    return [word for word, _ in islice(index.prefix_iter(prefix), limit)]


words, source = load_words()
index = TreeMap.fromkeys(words)  # the words are the keys; values are unused
print(f"{len(index)} distinct words from {source}")

# As the user types, each keystroke narrows the same query.
print("\ntyping 'inter', one keystroke at a time:")
typed = "inter"
for n in range(1, len(typed) + 1):
    prefix = typed[:n]
    print(f"  {prefix:<6} -> {', '.join(complete(index, prefix, 4))}")

# prefix_iter is lazy: counting touches only the words under the prefix.
print("\nhow many words start with ...")
for prefix in ["the", "under", "zo", "qqq"]:
    count = sum(1 for _ in index.prefix_iter(prefix))
    first = index.get_prefix(prefix)  # the smallest match, or None
    print(f"  {prefix!r:<8} {count:>5} words, first: {first[0] if first else None}")

# reverse=True walks the same words from the end.
print(
    "\nlast 3 words starting with 'pre':",
    [w for w, _ in islice(index.prefix_iter("pre", reverse=True), 3)],
)

# The other direction: which stored words are prefixes of a given text?
print("words that 'understanding' starts with:", [w for w, _ in index.prefixes("understanding")])
