"""What blart is for, on a real word list, against a dict: run by `make demo`.

Reads Debian's word list (/usr/share/dict/words, package wamerican) if it
is installed, or else generates 100,000 pronounceable words (the same
every run), and times four jobs beside what a dict needs for the same
answer:

- autocomplete: the first words under a prefix (``prefix_iter``; a dict
  scans every key and sorts the matches);
- spelling suggestions: the nearest words within two edits
  (``fuzzy_search``; a dict computes the edit distance to every key);
- routing: the longest route that is a prefix of a URL path
  (``longest_prefix``; a dict looks up every prefix of the path);
- a saved index: ``save``, then the file opened as a ``FrozenTreeMap``,
  which answers from the file's pages without building anything (a dict
  is pickled and unpickled), in a temporary directory removed at the end.

Every answer is checked against the dict's. Run it with
``python examples/demo.py``; ``--words FILE`` reads another list (one word
a line), ``--generate N`` generates N words instead.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from itertools import islice
from typing import TypeVar

from blart import FrozenTreeMap, TreeMap

SYSTEM_WORDS = "/usr/share/dict/words"
GENERATED = 100_000
MAX_EDITS = 2
SHOWN = 4  # completions shown per prefix
WIDTH = 100  # of an output line, at most

# Queries for an English list; another list gets queries made from its words.
PREFIXES = ["inter", "pho", "unb"]
TYPOS = [("recieve", "receive"), ("definately", "definitely")]

T = TypeVar("T")

# --- the words ------------------------------------------------------------

# A syllable is an onset, a vowel and a coda. After the first syllable the
# onset is never empty, so vowels do not pile up, and inner codas are short.
ONSETS = [*"bcdfghjklmnprstvwz", "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr"]
ONSETS += ["ph", "pl", "pr", "qu", "sh", "sk", "sl", "sp", "st", "th", "tr"]
VOWELS = [*"aeiouaeioay", "ai", "ea", "ee", "oa", "oo", "ou"]
INNER_CODAS = ["", "", "", "", "n", "r", "s", "l", "m", "nt", "st"]
FINAL_CODAS = [*INNER_CODAS, "nd", "ng", "rt", "ck", "sh", "x", "ll", "ss", "ght"]


def generated_words(count: int, seed: int = 2026) -> list[str]:
    """``count`` distinct pronounceable words, the same for the same arguments."""
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < count:
        syllables = rng.choices((1, 2, 3, 4), weights=(2, 6, 4, 1))[0]
        word = "" if rng.random() < 0.2 else rng.choice(ONSETS)
        for left in range(syllables - 1, -1, -1):
            word += rng.choice(VOWELS) + rng.choice(FINAL_CODAS if left == 0 else INNER_CODAS)
            if left:
                word += rng.choice(ONSETS)
        words.setdefault(word)
    return list(words)


def read_words(path: str) -> list[str] | None:
    """The distinct lines of ``path``, in file order, or None if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return list(dict.fromkeys(line.rstrip("\r\n") for line in f if line.strip()))
    except (OSError, UnicodeDecodeError):
        return None


# --- timing and output ----------------------------------------------------


def timed(run: Callable[[], T], budget: float = 0.03) -> tuple[T, float]:
    """``run()``'s result and its time per call, best of 3 rounds of about
    ``budget`` / 3 seconds each (a single call if that takes longer)."""
    start = time.perf_counter()
    result = run()
    best = time.perf_counter() - start
    if best < budget:
        calls = max(1, min(100_000, int(budget / 3 / max(best, 1e-7))))
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                run()
            best = min(best, (time.perf_counter() - start) / calls)
    return result, best


def _micro() -> str:
    try:
        "\u00b5".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "u"
    return "\u00b5"


MICRO = _micro()


def duration(seconds: float) -> str:
    """``seconds`` in a unit, to three significant digits: 812 ns, 4.10 µs, 1.25 s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), (MICRO + "s", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:#.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.0f} kB"


def comparison(blart: float, dict_: float) -> str:
    """blart's time against dict's, in words."""
    if 1 / 1.05 < blart / dict_ < 1.05:  # within the machine's noise
        return "about the same"
    if blart > dict_:
        return f"{blart / dict_:.1f}x slower"
    ratio = dict_ / blart
    return f"{ratio:,.0f}x faster" if ratio >= 10 else f"{ratio:.1f}x faster"


LABEL = 24
RATIO = 15


def row(label: str, blart: float, dict_: float, answer: str) -> None:
    """One aligned line: what was asked, both times, their ratio, the answer."""
    if len(label) > LABEL:
        label = label[: LABEL - 3] + "..."
    line = f"  {label:<{LABEL}}{duration(blart):>9}{duration(dict_):>10}  "
    line += f"{comparison(blart, dict_):<{RATIO}} "
    room = WIDTH - len(line)
    print(line + (answer if len(answer) <= room else answer[: room - 3] + "..."))


def check(same: bool, what: str) -> None:
    if not same:
        raise RuntimeError(f"blart and the dict disagree on {what}")


# --- what a dict user writes ----------------------------------------------


def completions(words: Iterable[str], prefix: str) -> list[str]:
    """The first SHOWN of ``words`` that start with ``prefix``: a scan and a sort."""
    return sorted(w for w in words if w.startswith(prefix))[:SHOWN]


def levenshtein_within(a: str, b: str, limit: int) -> int | None:
    """The edit distance of ``a`` and ``b`` if it is at most ``limit``, else None:
    the classic dynamic programme, a row at a time, stopping once a row is
    all over the limit."""
    if abs(len(a) - len(b)) > limit:
        return None
    costs = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, costs[0] = costs[0], i
        for j, cb in enumerate(b, 1):
            previous, costs[j] = (
                costs[j],
                min(costs[j] + 1, costs[j - 1] + 1, previous + (ca != cb)),
            )
        if min(costs) > limit:
            return None
    return costs[-1] if costs[-1] <= limit else None


def nearest(found: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The 3 nearest of some (word, distance) pairs: by distance, then A to Z."""
    return sorted(found, key=lambda pair: (pair[1], pair[0]))[:3]


def brute_force_nearest(words: Iterable[str], typo: str) -> list[tuple[str, int]]:
    within = ((w, levenshtein_within(typo, w, MAX_EDITS)) for w in words)
    return nearest((w, d) for w, d in within if d is not None)


# --- the jobs -------------------------------------------------------------


def pick(
    words: list[str], chosen: list[str], usable: Callable[[str], bool], derive: Callable[[str], str]
) -> list[str]:
    """Three queries: ``chosen``, then ``derive(word)`` of words picked at
    random (the same every run) while that is ``usable``."""
    chosen = chosen[:3]
    rng = random.Random(7)
    candidates = [w for w in words if w.isalpha() and w.islower() and 6 <= len(w) <= 10]
    for _ in range(1000):
        if len(chosen) == 3 or not candidates:
            break
        query = derive(rng.choice(candidates))
        if query not in chosen and usable(query):
            chosen.append(query)
    return chosen


def misspelt(word: str) -> str:
    """``word`` with the two letters in its middle swapped (two edits away)."""
    i = len(word) // 2
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def autocomplete(tree: TreeMap[int], plain: dict[str, int], prefix: str) -> None:
    shown, blart = timed(lambda: [k for k, _ in islice(tree.prefix_iter(prefix), SHOWN)])
    expected, scan = timed(lambda: completions(plain, prefix))
    check(shown == expected, f"the words under {prefix!r}")
    row(repr(prefix), blart, scan, ", ".join(shown))


def suggest(
    tree: TreeMap[int] | FrozenTreeMap[int], plain: dict[str, int], typo: str, label: str = ""
) -> None:
    found, blart = timed(lambda: nearest((k, d) for k, _, d in tree.fuzzy_search(typo, MAX_EDITS)))
    expected, scan = timed(lambda: brute_force_nearest(plain, typo))
    check(found == expected, f"the words near {typo!r}")
    row(label or repr(typo), blart, scan, ", ".join(f"{k} ({d})" for k, d in found) or "-")


def routing(words: list[str]) -> None:
    """Routes /api/v1/<name>/ and /api/v1/<name>/admin/ for 5,000 names."""
    names = [w for w in words if w.isalpha() and w.islower() and len(w) <= 7]
    names = sorted(random.Random(5).sample(names, min(5000, len(names))))
    routes: TreeMap[str] = TreeMap({"/": "home", "/api/": "API index", "/static/": "files"})
    for name in names:
        routes[f"/api/v1/{name}/"] = f"{name} handler"
        routes[f"/api/v1/{name}/admin/"] = f"{name} admin"
    plain = dict(routes.items())
    rng = random.Random(3)
    paths = [
        f"/api/v1/{rng.choice(names)}/{rng.choice(['', 'admin/', 'items/'])}{rng.randrange(100)}"
        for _ in range(2_000)
    ] + [f"/static/css/{rng.choice(names)}.css" for _ in range(500)]

    def by_tree(path: str) -> str:
        found = routes.longest_prefix(path)
        assert found is not None, "'/' covers every path"
        return found[1]

    def by_dict(path: str) -> str:
        for end in range(len(path), -1, -1):
            handler = plain.get(path[:end])
            if handler is not None:
                return handler
        raise AssertionError("'/' covers every path")

    for path in [*paths[:3], paths[-1]]:
        route(by_tree, by_dict, path)
    handlers, blart = timed(lambda: [by_tree(p) for p in paths], budget=0.1)
    expected_handlers, probe = timed(lambda: [by_dict(p) for p in paths], budget=0.1)
    check(handlers == expected_handlers, "the routes of the paths")
    row(f"{len(paths):,} paths", blart, probe, f"over {len(routes):,} routes")


def route(by_tree: Callable[[str], str], by_dict: Callable[[str], str], path: str) -> None:
    handler, blart = timed(lambda: by_tree(path))
    expected, probe = timed(lambda: by_dict(path))
    check(handler == expected, f"the route of {path!r}")
    row(path, blart, probe, f"-> {handler}")


def saved_index(tree: TreeMap[int], plain: dict[str, int], prefix: str, typo: str) -> None:
    with tempfile.TemporaryDirectory(prefix="blart-demo-") as directory:
        index = os.path.join(directory, "words.blart")
        pickled = os.path.join(directory, "words.pickle")

        def dump() -> None:
            with open(pickled, "wb") as f:
                pickle.dump(plain, f, protocol=pickle.HIGHEST_PROTOCOL)

        def unpickle() -> dict[str, int]:
            with open(pickled, "rb") as f:
                loaded: dict[str, int] = pickle.load(f)
            return loaded

        _, saving = timed(lambda: tree.save(index), budget=0.1)
        _, dumping = timed(dump, budget=0.1)
        sizes = f"{size(os.path.getsize(index))}; the pickle {size(os.path.getsize(pickled))}"
        row("save / pickle.dump", saving, dumping, sizes)
        opened(index, unpickle, prefix, typo)


def opened(index: str, unpickle: Callable[[], dict[str, int]], prefix: str, typo: str) -> None:
    """Opens ``index`` and queries it; the FrozenTreeMap is gone when this returns."""

    def open_index() -> FrozenTreeMap[int]:
        return FrozenTreeMap(index)

    frozen, opening = timed(open_index, budget=0.1)
    loaded, loading = timed(unpickle, budget=0.1)
    check(frozen == loaded, "the saved words")
    row("open / pickle.load", opening, loading, f"{len(frozen):,} words, nothing built")
    shown, blart = timed(lambda: [k for k, _ in islice(frozen.prefix_iter(prefix), SHOWN)])
    expected, scan = timed(lambda: completions(loaded, prefix))
    check(shown == expected, f"the saved words under {prefix!r}")
    row(f"then {prefix!r}", blart, scan, ", ".join(shown))
    suggest(frozen, loaded, typo, f"then {typo!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="What blart is for, against a dict.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--words", metavar="FILE", help=f"the word list (default {SYSTEM_WORDS})")
    source.add_argument("--generate", type=int, metavar="N", help="generate N words instead")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a word the terminal cannot show is escaped
        sys.stdout.reconfigure(errors="backslashreplace")
    started = time.perf_counter()

    if args.generate is not None:
        words, origin = generated_words(args.generate), "generated"
    elif args.words is not None:
        read = read_words(args.words)
        if read is None:
            parser.error(f"cannot read {args.words!r} as UTF-8 text")
        words, origin = read, f"from {args.words}"
    else:
        read = read_words(SYSTEM_WORDS)
        if read is None:
            words, origin = generated_words(GENERATED), f"generated ({SYSTEM_WORDS} is missing)"
        else:
            words, origin = read, f"from {SYSTEM_WORDS}"

    tree, building = timed(lambda: TreeMap(zip(words, range(len(words)))), budget=0.1)
    plain, filling = timed(lambda: dict(zip(words, range(len(words)))), budget=0.1)

    def completes(prefix: str) -> bool:
        return len(list(islice(tree.prefix_iter(prefix), SHOWN))) == SHOWN

    vocabulary = set(words)
    prefixes = pick(words, [p for p in PREFIXES if completes(p)], completes, lambda w: w[:3])
    typos = pick(
        words,
        [typo for typo, meant in TYPOS if meant in vocabulary and typo not in vocabulary],
        lambda typo: typo not in vocabulary,
        misspelt,
    )[:2]
    if not (prefixes and typos):
        parser.error(f"{len(words):,} words are too few for this demo")

    print(f"blart demo on {len(words):,} words {origin}")
    print(
        f"TreeMap built in {duration(building)} (a dict: {duration(filling)}); "
        "each time is per call, the best of 3 rounds"
    )
    print(f"\n  {'':<{LABEL}}{'blart':>9}{'dict':>10}  {'blart is':<{RATIO}} answer")
    print(f"autocomplete: the first {SHOWN} words under a prefix (dict: scan all keys, sort)")
    for prefix in prefixes:
        autocomplete(tree, plain, prefix)
    print(f"spelling: the 3 nearest words within {MAX_EDITS} edits (dict: distance to every key)")
    for typo in typos:
        suggest(tree, plain, typo)
    print("routing: the longest route prefix of a URL path (dict: look up each prefix)")
    routing(words)

    print("saved index: save, open as a FrozenTreeMap, query (dict: pickle.dump, pickle.load)")
    saved_index(tree, plain, prefixes[0], typos[0])
    print(
        f"\nAll answers agree with the dict's. Total time {duration(time.perf_counter() - started)}."
    )


if __name__ == "__main__":
    main()
