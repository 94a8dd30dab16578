"""One saved index shared by a pool of worker processes.

Builds a TreeMap of words, saves it to a file and answers queries in a
``multiprocessing`` pool.  Each worker gets a ``FrozenTreeMap`` of the
file: it answers lookups, completions and fuzzy searches from the file's
pages (mapped with mmap), so no worker builds or unpickles a copy of the
index, and the operating system keeps one copy of those pages for all of
them.  A FrozenTreeMap pickles as its path, so handing one to a worker is
cheap.  Run it with ``python examples/shared_index.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
from itertools import islice

from blart import FrozenTreeMap, TreeMap

# Common English words, most frequent first: a word's value is its rank.
WORDS = """
    the be to of and a in that have it for not on with he as you do at this
    but his by from they we say her she or an will my one all would there
    their what so up out if about who get which go me when make can like time
    no just him know take people into year your good some could them see
    other than then now look only come its over think also back after use two
    how our work first well way even new want because any these give day most
    us interest interesting international internet interview receive separate
    definitely necessary tomorrow
"""

QUERIES = [
    ("lookup", "people"),
    ("lookup", "peeple"),
    ("complete", "th"),
    ("complete", "inter"),
    ("complete", "zz"),
    ("fuzzy", "recieve"),
    ("fuzzy", "tomorow"),
    ("fuzzy", "wnat"),
    ("prefixes", "interesting"),
]

# Each worker process's index, set once by the pool's initializer.
_index: FrozenTreeMap | TreeMap[int] | None = None


def build_index() -> TreeMap[int]:
    """word -> frequency rank (1 = the most frequent)."""
    return TreeMap((word, rank) for rank, word in enumerate(WORDS.split(), 1))


def use_index(index: FrozenTreeMap | TreeMap[int]) -> None:
    """The pool's initializer: runs once in each worker.  The FrozenTreeMap
    arrives pickled, and unpickling it opened the same file in this process
    (calling FrozenTreeMap(path) here would do the same)."""
    global _index
    _index = index


def answer(query: tuple[str, str]) -> str:
    """One query, answered from this process's index; a line of text."""
    kind, text = query
    index = _index
    assert index is not None, "use_index() has not run in this process"
    if kind == "lookup":
        rank = index.get(text)
        found = "not a word" if rank is None else f"rank {rank}"
    elif kind == "complete":
        found = ", ".join(word for word, _ in islice(index.prefix_iter(text), 5)) or "-"
    elif kind == "fuzzy":
        hits = sorted((distance, word) for word, _, distance in index.fuzzy_search(text, 2))
        found = ", ".join(f"{word} ({distance})" for distance, word in hits[:3]) or "-"
    elif kind == "prefixes":
        found = ", ".join(word for word, _ in index.prefixes(text)) or "-"
    else:
        raise ValueError(f"unknown query kind {kind!r}")
    return f"  {kind:<8} {text!r:<14} -> {found}"


def main() -> None:
    index = build_index()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "words.blart")
        index.save(path)
        print(f"saved {len(index)} words to words.blart")

        frozen = FrozenTreeMap(path)  # checks the file, maps it; builds nothing
        print(f"FrozenTreeMap: {len(frozen)} words, first {frozen.first()}, last {frozen.last()}")
        blob = pickle.dumps(frozen)
        print(
            "pickled, it holds the path, not the words:",
            path.encode() in blob and b"receive" not in blob,
        )
        print("TreeMap.load(path) == index:", TreeMap.load(path) == index)

        # "spawn" starts each worker afresh (the default on Windows and
        # macOS), so the FrozenTreeMap really travels pickled.
        context = multiprocessing.get_context("spawn")
        with context.Pool(2, initializer=use_index, initargs=(frozen,)) as pool:
            answers = pool.map(answer, QUERIES)
            pool.close()
            pool.join()
        print(f"{len(answers)} queries answered by the pool:")
        for line in answers:
            print(line)
        del frozen  # unmap the file before the directory goes (Windows insists)


if __name__ == "__main__":
    main()
