"""Finding a dictionary's terms in a long text: TreeMap.finditer against the
Aho-Corasick packages and flashtext, measured in one process.

    bench/.venv-bench/bin/python bench/scan.py [--chars 7000000] [--repeat 3] [--json PATH]
    make bench-scan BENCH_ARGS="--chars 200000"     (creates the bench venv if need be)

The dictionary is 50,000 terms: 40,000 distinct words of the word list
(workloads.gen_words(): the system's huge English list, else its synthetic
stand-in) and 10,000 distinct two-word phrases "w1 w2" made of them, each
mapped to its index.  The text is --chars characters of words drawn from the
whole list (not only the dictionary's), joined with single spaces.  Every
choice is seeded.  Timed in CPU time (time.process_time), the cyclic GC off,
best of --repeat rounds, the rounds interleaved so that the machine's drift
falls on every row alike:

  scans (leftmost-longest, matches inside words too; the match counts of the
  first three must agree, and so must their spans, else a warning)
    blart finditer                  list(m.finditer(text))
    pyahocorasick iter_long         list(A.iter_long(text)), A.add_word(term, (idx, term))
    ahocorasick_rs LeftmostLongest  list(ac.find_matches_as_indexes(text, overlapping=False))
  scans of whole words only
    blart finditer whole_words      list(m.finditer(text, whole_words=True))
    flashtext extract_keywords      kp.extract_keywords(text, span_info=True), case-sensitive
                                    (its word characters are ASCII letters, digits and "_";
                                    blart's are str.isalnum() and "_": counts may differ a little)
  builds from the 50,000 terms
    blart TreeMap(pairs)            the pairs in index order (random): one at a time
    blart TreeMap(sorted pairs)     in key order: built at once (the sort is not timed)
    blart m[k] = v loop             an empty map filled one by one
    pyahocorasick add + make        add_word loop and make_automaton()
    pyahocorasick make_automaton    alone, on a trie already filled (not timed)
    ahocorasick_rs constructor      AhoCorasick(terms, matchkind=LeftmostLongest)
    flashtext add_keyword loop
  one change of the dictionary, seconds per operation (a key added, or removed)
    blart set / del                 m[k] = v then del m[k], for --updates new words
    pyahocorasick add/remove + make add_word + make_automaton, then remove_word +
                                    make_automaton: what a scan needs to see a change
                                    (--rebuilds keys)
    flashtext add/remove_keyword    add_keyword then remove_keyword (--updates keys)
    ahocorasick_rs rebuild          it cannot change: its constructor's time

A peer that is not installed gets a "not installed" row.  blart.TreeMap must
have finditer() (the script stops otherwise), unless --no-blart leaves
blart's rows out.  Run where blart and the peers are installed: make
bench-scan uses the bench venv (bench/run.py installs them there); the full
suite (make bench) runs this script once and keeps its figures.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import random
import subprocess
import sys
import time
from array import array
from importlib import metadata
from itertools import islice

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402

try:
    import ahocorasick
except ImportError:
    ahocorasick = None
try:
    import ahocorasick_rs
except ImportError:
    ahocorasick_rs = None
try:
    from flashtext import KeywordProcessor
except ImportError:
    KeywordProcessor = None

DISTRIBUTIONS = ("blart", "pyahocorasick", "ahocorasick-rs", "flashtext")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(fn, setup=None):
    """CPU time of fn(setup()) with the cyclic GC off (setup is not timed),
    and what it returned."""
    arg = setup() if setup else None
    gc.collect()
    gc.freeze()
    gc.disable()
    t0 = time.process_time()
    result = fn(arg)
    t = time.process_time() - t0
    gc.enable()
    return t, result


# ---------------------------------------------------------------------------
# Dictionary and text
# ---------------------------------------------------------------------------


def make_terms(words, n_words, n_phrases, seed):
    """n_words distinct words of the list, then n_phrases distinct "w1 w2"
    made of them: the term of index i is terms[i]."""
    rng = random.Random(seed)
    chosen = rng.sample(words, n_words)
    seen = set(chosen)
    phrases = []
    while len(phrases) < n_phrases:
        p = rng.choice(chosen) + " " + rng.choice(chosen)
        if p not in seen:
            seen.add(p)
            phrases.append(p)
    return chosen + phrases


def make_text(words, chars, seed):
    """Words drawn from the whole list, joined with single spaces, until
    the text has at least chars characters."""
    rng = random.Random(seed)
    parts, size = [], -1
    while size < chars:
        for w in rng.choices(words, k=max(1000, (chars - size) // 8)):
            parts.append(w)
            size += len(w) + 1
            if size >= chars:
                break
    return " ".join(parts), len(parts)


def fresh_words(words, terms, count, seed):
    """count words of the list that are not terms, for the changes."""
    rng = random.Random(seed)
    have = set(terms)
    out = []
    for w in rng.sample(words, min(len(words), count * 4 + 1000)):
        if w not in have:
            out.append(w)
            if len(out) == count:
                break
    return out


# ---------------------------------------------------------------------------
# Rows: name -> (group, fn, setup, spans); fn(setup()) is timed, spans(result)
# gives its matches as (start, end) pairs for the checks
# ---------------------------------------------------------------------------


def blart_spans(result):
    return ((s, e) for s, e, _, _ in result)


def pyaho_spans(result):
    return ((end - len(v[1]) + 1, end + 1) for end, v in result)


def rs_spans(result):
    return ((s, e) for _, s, e in result)


def flashtext_spans(result):
    return ((s, e) for _, s, e in result)


def build_rows(args, text, terms, pairs, fresh):
    rows = {}
    missing = {}
    sorted_pairs = sorted(pairs)
    m = A = ac = kp = None
    upd = fresh[: args.updates]
    reb = fresh[: args.rebuilds]

    if not args.no_blart:
        from blart import TreeMap

        if not hasattr(TreeMap, "finditer"):
            raise SystemExit(
                "blart.TreeMap has no finditer(): install a blart that has it "
                "(make bench-scan reinstalls this repository's), or pass --no-blart"
            )
        m = TreeMap(pairs)

        def fill(_):
            t = TreeMap()
            for k, v in pairs:
                t[k] = v
            return t

        def churn(_):
            for i, k in enumerate(upd):
                m[k] = i
                del m[k]

        rows["blart finditer"] = ("scan", lambda _: list(m.finditer(text)), None, blart_spans)
        rows["blart finditer whole_words"] = (
            "words",
            lambda _: list(m.finditer(text, whole_words=True)),
            None,
            blart_spans,
        )
        rows["blart TreeMap(pairs)"] = ("build", lambda _: TreeMap(pairs), None, None)
        rows["blart TreeMap(sorted pairs)"] = ("build", lambda _: TreeMap(sorted_pairs), None, None)
        rows["blart m[k] = v loop"] = ("build", fill, None, None)
        rows["blart set / del"] = ("change", churn, None, None)

    if ahocorasick is not None:

        def filled(_=None):
            a = ahocorasick.Automaton()
            for i, t in enumerate(terms):
                a.add_word(t, (i, t))
            return a

        def pyaho_build(_):
            a = filled()
            a.make_automaton()
            return a

        def pyaho_make(a):
            a.make_automaton()
            return a

        def pyaho_churn(_):
            for k in reb:
                A.add_word(k, (-1, k))
                A.make_automaton()
                A.remove_word(k)
                A.make_automaton()

        A = pyaho_build(None)
        rows["pyahocorasick iter_long"] = (
            "scan",
            lambda _: list(A.iter_long(text)),
            None,
            pyaho_spans,
        )
        rows["pyahocorasick add + make"] = ("build", pyaho_build, None, None)
        rows["pyahocorasick make_automaton"] = ("build", pyaho_make, filled, None)
        rows["pyahocorasick add/remove + make"] = ("change", pyaho_churn, None, None)

    if ahocorasick_rs is not None:
        kind = ahocorasick_rs.MatchKind.LeftmostLongest

        def rs_build(_):
            return ahocorasick_rs.AhoCorasick(terms, matchkind=kind)

        ac = rs_build(None)
        rows["ahocorasick_rs LeftmostLongest"] = (
            "scan",
            lambda _: list(ac.find_matches_as_indexes(text, overlapping=False)),
            None,
            rs_spans,
        )
        rows["ahocorasick_rs constructor"] = ("build", rs_build, None, None)

    if KeywordProcessor is not None:

        def ft_build(_):
            p = KeywordProcessor(case_sensitive=True)
            for t in terms:
                p.add_keyword(t)
            return p

        def ft_churn(_):
            for k in upd:
                kp.add_keyword(k)
                kp.remove_keyword(k)

        kp = ft_build(None)
        rows["flashtext extract_keywords"] = (
            "words",
            lambda _: kp.extract_keywords(text, span_info=True),
            None,
            flashtext_spans,
        )
        rows["flashtext add_keyword loop"] = ("build", ft_build, None, None)
        rows["flashtext add/remove_keyword"] = ("change", ft_churn, None, None)
    for name in ORDER:
        if name not in rows and name != "ahocorasick_rs rebuild":
            missing[name] = "left out (--no-blart)" if name.startswith("blart") else "not installed"
    return rows, missing, m


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# per group: the blart row every other row of the group is divided by
BASE = {
    "scan": "blart finditer",
    "words": "blart finditer whole_words",
    "build": "blart TreeMap(pairs)",
    "change": "blart set / del",
}
GROUP_TITLES = {
    "scan": "leftmost-longest scan, matches inside words too",
    "words": "whole words only",
    "build": "build from the terms",
    "change": "one change of the dictionary (per key added or removed)",
}
ORDER = [
    "blart finditer",
    "pyahocorasick iter_long",
    "ahocorasick_rs LeftmostLongest",
    "blart finditer whole_words",
    "flashtext extract_keywords",
    "blart TreeMap(pairs)",
    "blart TreeMap(sorted pairs)",
    "blart m[k] = v loop",
    "pyahocorasick add + make",
    "pyahocorasick make_automaton",
    "ahocorasick_rs constructor",
    "flashtext add_keyword loop",
    "blart set / del",
    "pyahocorasick add/remove + make",
    "flashtext add/remove_keyword",
    "ahocorasick_rs rebuild",
]


def group_of(name):
    for g, rows in (
        ("scan", ORDER[0:3]),
        ("words", ORDER[3:5]),
        ("build", ORDER[5:12]),
        ("change", ORDER[12:]),
    ):
        if name in rows:
            return g
    return None


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        commit = ""
    versions = {}
    for d in DISTRIBUTIONS:
        try:
            versions[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            pass
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "git_commit": commit or "?",
        "versions": versions,
    }


def pairs_of(flat):
    return set(zip(flat[0::2], flat[1::2]))


def checks(spans, counts):
    """Warnings when the leftmost-longest rows disagree, and the whole-word
    comparison with flashtext."""
    out = []
    ll = [n for n in ORDER[0:3] if n in counts]
    agree = [o for o in ll[1:] if spans[o] == spans[ll[0]]]
    for other in ll[1:]:
        if other in agree:
            continue
        a, b = pairs_of(spans[ll[0]]), pairs_of(spans[other])
        out.append(
            "WARNING: %s found %d matches, %s %d (%d of the first's spans are not in the "
            "second's list, %d the other way)"
            % (ll[0], counts[ll[0]], other, counts[other], len(a - b), len(b - a))
        )
        if other.startswith("pyahocorasick"):
            out.append(
                "  (pyahocorasick's iter_long is known to drop or shorten some leftmost-longest "
                "matches: WojciechMula/pyahocorasick issues 133, 185, 189%s)"
                % ("; %s's spans equal %s's" % (agree[0], ll[0]) if agree else "")
            )
    a, b = ORDER[3:5]
    if a in counts and b in counts:
        common = len(pairs_of(spans[a]) & pairs_of(spans[b]))
        out.append(
            "whole words: blart %d matches, flashtext %d, %d spans in common (flashtext's word"
            % (counts[a], counts[b], common)
        )
        out.append(
            "  characters are ASCII letters, digits and _, blart's str.isalnum() and _: the "
            "counts may differ a little)"
        )
    return out


def fmt_ratio(v):
    if v is None:
        return ""
    return "%.2f" % v if v >= 0.1 else "%.1e" % v


def fmt_s(t):
    if t >= 1:
        return "%.3f s" % t
    if t >= 1e-3:
        return "%.2f ms" % (t * 1e3)
    return "%.2f us" % (t * 1e6)


def report(res):
    p, mc = res["params"], res["machine"]
    lines = [
        "scan benchmark  %s  %s (%d cores)  %s  Python %s  commit %s"
        % (mc["date"], mc["cpu"], mc["cores"], mc["platform"], mc["python"], mc["git_commit"]),
        "versions: " + ", ".join("%s %s" % kv for kv in sorted(mc["versions"].items())),
        "dictionary: %d terms (%d words + %d two-word phrases), words from a list of %d (%s);"
        " text: %d chars (%d words); CPU seconds, best of %d"
        % (
            p["terms"],
            p["words"],
            p["phrases"],
            p["wordlist_size"],
            p["wordlist"],
            p["chars"],
            p["text_words"],
            p["repeat"],
        ),
        "%-34s %12s %10s %14s" % ("", "time", "matches", "blart / this"),
    ]
    rows = res["rows"]
    last = None
    for name in ORDER:
        g = group_of(name)
        if g != last:
            lines.append(GROUP_TITLES[g] + ":")
            last = g
        r = rows.get(name)
        if r is None:
            continue
        if "error" in r:
            lines.append("  %-32s %s" % (name, r["error"]))
            continue
        lines.append(
            "  %-32s %12s %10s %14s"
            % (
                name,
                fmt_s(r["seconds"]),
                r.get("matches", ""),
                fmt_ratio(r.get("blart_over_this")),
            )
        )
    lines.append(
        "(blart / this: the group's first blart row's time over this row's; below 1, blart is faster)"
    )
    lines.extend(res["notes"])
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    ap.add_argument("--chars", type=int, default=7_000_000, help="text size (default 7000000)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, best kept (default 3)")
    ap.add_argument("--words", type=int, default=40_000, help="dictionary words (default 40000)")
    ap.add_argument("--phrases", type=int, default=10_000, help="two-word phrases (default 10000)")
    ap.add_argument(
        "--updates", type=int, default=1000, help="new keys for blart's and flashtext's changes"
    )
    ap.add_argument(
        "--rebuilds",
        type=int,
        default=10,
        help="new keys for pyahocorasick's changes (two make_automaton each; default 10)",
    )
    ap.add_argument("--seed", type=int, default=20240610)
    ap.add_argument(
        "--no-blart", action="store_true", help="peers only (for a blart without finditer)"
    )
    ap.add_argument(
        "--install-words",
        action="store_true",
        help="apt-get install wamerican-huge if there is no word list (root)",
    )
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()

    if args.install_words and not workloads.find_wordlist():
        workloads.install_wordlist()
    words, source = workloads.gen_words()
    terms = make_terms(words, args.words, args.phrases, args.seed)
    pairs = [(t, i) for i, t in enumerate(terms)]
    text, text_words = make_text(words, args.chars, args.seed + 1)
    fresh = fresh_words(words, terms, max(args.updates, args.rebuilds), args.seed + 2)
    log("scan: %d terms, text of %d chars; building" % (len(terms), len(text)))
    rows, missing, m = build_rows(args, text, terms, pairs, fresh)

    best, rounds, counts, spans = {}, {}, {}, {}
    for rnd in range(args.repeat):
        log("scan: round %d of %d" % (rnd + 1, args.repeat))
        for name, (group, fn, setup, to_spans) in rows.items():
            t, result = timed(fn, setup)
            rounds.setdefault(name, []).append(t)
            best[name] = min(best.get(name, t), t)
            if to_spans is not None and rnd == 0:
                counts[name] = len(result)
                flat = array("q")
                for s, e in to_spans(result):
                    flat.append(s)
                    flat.append(e)
                spans[name] = flat
            del result
    if m is not None:
        for s, e, k, v in islice(m.finditer(text), 1000):
            assert text[s:e] == k == terms[v], (s, e, k, v)
        assert len(m) == len(terms)

    out_rows = {}
    per_op = {
        "blart set / del": 2 * len(fresh[: args.updates]),
        "pyahocorasick add/remove + make": 2 * len(fresh[: args.rebuilds]),
        "flashtext add/remove_keyword": 2 * len(fresh[: args.updates]),
    }
    for name in rows:
        div = per_op.get(name, 1)
        out_rows[name] = {"seconds": best[name] / div, "rounds": [t / div for t in rounds[name]]}
        if name in counts:
            out_rows[name]["matches"] = counts[name]
    for name, why in missing.items():
        out_rows[name] = {"error": why}
    out_rows["ahocorasick_rs rebuild"] = dict(out_rows["ahocorasick_rs constructor"])
    for name, r in out_rows.items():
        base = out_rows.get(BASE[group_of(name)], {})
        if name != BASE[group_of(name)] and "seconds" in r and "seconds" in base:
            r["blart_over_this"] = base["seconds"] / r["seconds"]

    res = {
        "machine": machine(),
        "params": {
            "chars": len(text),
            "text_words": text_words,
            "terms": len(terms),
            "words": args.words,
            "phrases": args.phrases,
            "wordlist": source,
            "wordlist_size": len(words),
            "repeat": args.repeat,
            "updates": len(fresh[: args.updates]),
            "rebuilds": len(fresh[: args.rebuilds]),
            "seed": args.seed,
        },
        "rows": out_rows,
        "notes": checks(spans, counts),
    }
    print(report(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        log("wrote", args.json)


if __name__ == "__main__":
    main()
