"""Spelling suggestions over a word list: TreeMap.fuzzy_search (plain, with
transpositions, by prefix) and TreeMap.closest against symspellpy, timed in
one process, and the memory of each structure in fresh processes.

    bench/.venv-bench/bin/python bench/suggest.py [--queries 300] [--repeat 3] [--json PATH]
    make bench-suggest BENCH_ARGS="--quick"     (creates the bench venv if need be)

The map is the whole word list (workloads.gen_words(): the system's huge
English list, else its synthetic stand-in), every word mapped to its index.
The misspelt queries are --queries words of the list of at least 4
characters, half of them with one random edit and half with two (insert,
delete or substitute a lowercase ASCII letter, or swap two adjacent
characters; an edit that changes nothing is drawn again, and so is a query
that is a word of the list).  The prefix queries are the first 5 characters
of --queries words of at least 5.  Every choice is seeded.  Each call is
timed alone in CPU time (time.process_time), the cyclic GC off, in
--repeat rounds interleaved so that the machine's drift falls on every row
alike, after an untimed pass over 20 queries of each row; a query's time is
its best round, a row's "median" the median of those over its queries (also
over the 1-edit and the 2-edit queries alone), its "total" the sum of one
round, the best:

  misspelt queries, every key within distance 2, as a list
    blart fuzzy_search(q, 2)              list(m.fuzzy_search(q, 2))
    blart fuzzy_search(q, 2, transp.)     list(m.fuzzy_search(q, 2, transpositions=True)):
                                          optimal string alignment, an adjacent swap costs 1
                                          (target: median at most 1.3 times the plain one's)
  prefixes
    blart fuzzy_search(p, 1, prefix)      list(m.fuzzy_search(p, 1, prefix=True)), p = w[:5]:
                                          every key starting with a string within 1 of p
                                          (target: median at most 2 ms)
  the closest words of a misspelt query
    blart closest(q, 5)                   m.closest(q, 5) (target: median at most 0.5 ms)
    blart closest(q, 5, transp.)          m.closest(q, 5, transpositions=True)
    blart closest(q, 5, max_distance=2)   bounded as symspellpy's lookup is: at most the
                                          keys within 2
    floor: fuzzy_search(q, D - 1)         D = the distance of closest(q, 5)'s 5th key: the 5
                                          best include every key within D - 1, so no exact
                                          search without an index can answer before it has
                                          walked that far (an empty list when D = 0)
    symspellpy lookup CLOSEST             sym.lookup(q, Verbosity.CLOSEST, 2), where
                                          sym = SymSpell(max_dictionary_edit_distance=2) and
                                          sym.create_dictionary_entry(word, 1) for every word
                                          (its default distance is optimal string alignment)
  builds from the word list (CPU seconds)
    blart TreeMap(pairs)                  best of --repeat
    symspellpy create_dictionary_entry    once (the structure the lookups use)
  memory: VmRSS growth of a fresh process (one per row, so no two share an
  allocator) building the structure from words read one at a time from a
  file, so a structure that keeps its key objects pays for them
    blart TreeMap                         word -> index (the index ints are the map's too)
    blart TreeMap, values None            word -> None
    symspellpy SymSpell                   (target: blart's TreeMap at most 1/10 of it)

Quality: for every misspelt query, whether the word it was made from is
among blart's closest 5 (plain and with transpositions) and among
symspellpy's CLOSEST suggestions.

Checks (every query unless --check N): fuzzy_search's keys are in
ascending order, their values their indexes and their distances those of
this script's own dynamic programming; its key sets agree with symspellpy's
Verbosity.ALL lookup (an independent index: a disagreement is settled by
the dynamic programming and reported); the prefix results are exactly the
keys that start with one of the strings within 1 of p (found by bisection
in the sorted list); closest's results are sorted by (distance, key) and
equal the first 5 of fuzzy_search(q, d) so sorted, d the largest distance
closest returned.

The table goes to stderr, and with --json PATH the figures to a file.  A
peer that is not installed gets a "not installed" row.  blart.TreeMap must
have closest() and fuzzy_search(..., transpositions=, prefix=) (the script
stops otherwise).  symspellpy's build takes 10-16 s on the 348k words,
twice (here and in its memory process): --quick (60 queries, one round)
with --no-symspell runs in seconds.  Run where blart and symspellpy are
installed: make bench-suggest uses the bench venv (bench/run.py installs
them there); the full suite (make bench) runs this script once and keeps
its figures.
"""

import argparse
import bisect
import datetime
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402

try:
    from symspellpy import SymSpell, Verbosity
except ImportError:
    SymSpell = Verbosity = None

DISTRIBUTIONS = ("blart", "symspellpy")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
PREFIX_LEN = 5
CLOSEST_N = 5

FUZZY_PLAIN = "blart fuzzy_search(q, 2)"
FUZZY_TRANSP = "blart fuzzy_search(q, 2, transp.)"
PREFIX = "blart fuzzy_search(p, 1, prefix)"
CLOSEST = "blart closest(q, 5)"
CLOSEST_TRANSP = "blart closest(q, 5, transp.)"
CLOSEST_BOUNDED = "blart closest(q, 5, max_distance=2)"
FLOOR = "floor: fuzzy_search(q, D - 1)"
SYMSPELL = "symspellpy lookup CLOSEST"
BUILD_BLART = "blart TreeMap(pairs)"
BUILD_SYMSPELL = "symspellpy create_dictionary_entry"
MEM_BLART = "blart TreeMap"
MEM_BLART_NONE = "blart TreeMap, values None"
MEM_SYMSPELL = "symspellpy SymSpell"

GROUPS = [
    ("fuzzy", "misspelt queries, every key within distance 2", [FUZZY_PLAIN, FUZZY_TRANSP]),
    ("prefix", "prefixes of %d characters, distance 1" % PREFIX_LEN, [PREFIX]),
    (
        "closest",
        "the %d closest words of a misspelt query" % CLOSEST_N,
        [CLOSEST, CLOSEST_TRANSP, CLOSEST_BOUNDED, FLOOR, SYMSPELL],
    ),
]
QUALITY = [CLOSEST, CLOSEST_TRANSP, SYMSPELL]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def vm_rss():
    """This process's resident set size in bytes, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def gc_off():
    gc.collect()
    gc.freeze()
    gc.disable()


def gc_on():
    gc.enable()
    gc.unfreeze()


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


def one_edit(w, rng):
    """w with one random edit that changes it: a lowercase ASCII letter
    inserted, deleted, substituted, or two adjacent characters swapped."""
    while True:
        op = rng.randrange(4)
        if op == 0:
            i = rng.randrange(len(w) + 1)
            out = w[:i] + rng.choice(LETTERS) + w[i:]
        elif op == 1 and len(w) > 1:
            i = rng.randrange(len(w))
            out = w[:i] + w[i + 1 :]
        elif op == 3 and len(w) > 1:
            i = rng.randrange(len(w) - 1)
            out = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        else:
            i = rng.randrange(len(w))
            out = w[:i] + rng.choice(LETTERS) + w[i + 1 :]
        if out != w:
            return out


def make_misspelt(words, wordset, count, seed):
    """count (query, original word, edits) triples, the edits alternating
    1 and 2; no query is a word of the list."""
    rng = random.Random(seed)
    pool = [w for w in words if len(w) >= 4]
    out = []
    while len(out) < count:
        edits = 1 + len(out) % 2
        w = rng.choice(pool)
        q = w
        for _ in range(edits):
            q = one_edit(q, rng)
        if q != w and q not in wordset:
            out.append((q, w, edits))
    return out


def make_prefixes(words, count, seed):
    """count (prefix, word) pairs: the first PREFIX_LEN characters of
    distinct words of at least that length."""
    rng = random.Random(seed)
    pool = [w for w in words if len(w) >= PREFIX_LEN]
    return [(w[:PREFIX_LEN], w) for w in rng.sample(pool, min(count, len(pool)))]


# ---------------------------------------------------------------------------
# Distances for the checks (plain dynamic programming, nothing shared with
# the code measured)
# ---------------------------------------------------------------------------


def edit_distance(a, b, transpositions=False):
    """Levenshtein distance of a and b, or with transpositions their
    optimal string alignment distance (an adjacent swap costs 1, and no
    substring is edited twice)."""
    before = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        ca = a[i - 1]
        cur = [i]
        for j in range(1, len(b) + 1):
            cb = b[j - 1]
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if transpositions and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, before[j - 2] + 1)
            cur.append(v)
        before, prev = prev, cur
    return prev[len(b)]


def succ(s):
    """The smallest string above every string that starts with s."""
    return s[:-1] + chr(ord(s[-1]) + 1)


def prefix_expected(sorted_words, index, alphabet, p):
    """What fuzzy_search(p, 1, prefix=True) must give: every word that
    starts with a string within distance 1 of p (p itself: distance 0,
    p with one character deleted, substituted or inserted: 1), in key
    order, as (word, index, distance)."""
    near = {p: 0}
    for i in range(len(p) + 1):
        for c in alphabet:
            near.setdefault(p[:i] + c + p[i:], 1)
            if i < len(p):
                near.setdefault(p[:i] + c + p[i + 1 :], 1)
        if i < len(p) and len(p) > 1:
            near.setdefault(p[:i] + p[i + 1 :], 1)
    best = {}
    for s, d in near.items():
        lo = bisect.bisect_left(sorted_words, s)
        hi = bisect.bisect_left(sorted_words, succ(s), lo)
        for j in range(lo, hi):
            if d < best.get(j, 2):
                best[j] = d
    return [(sorted_words[j], index[sorted_words[j]], best[j]) for j in sorted(best)]


# ---------------------------------------------------------------------------
# Memory: one fresh process per structure
# ---------------------------------------------------------------------------


def memory_child(kind, path):
    """Runs in its own process: builds one structure from the words of
    path, read one at a time, and prints its RSS growth as JSON."""
    if kind.startswith("blart"):
        from blart import TreeMap
    elif SymSpell is None:
        raise SystemExit("symspellpy is not installed")
    gc.collect()
    base = vm_rss()
    t0 = time.process_time()
    if kind == "blart":
        s = TreeMap((w, i) for i, w in enumerate(workloads.iter_keys(path)))
        n = len(s)
    elif kind == "blart-none":
        s = TreeMap((w, None) for w in workloads.iter_keys(path))
        n = len(s)
    else:
        s = SymSpell(max_dictionary_edit_distance=2)
        for w in workloads.iter_keys(path):
            s.create_dictionary_entry(w, 1)
        n = len(s.words)
    cpu = time.process_time() - t0
    gc.collect()
    after = vm_rss()
    print(json.dumps({"rss_growth": after - base, "rss_base": base, "n": n, "build_s": cpu}))


def measure_memory(path, kinds, timeout):
    out = {}
    for name, kind in kinds:
        log("suggest: memory of %s (a fresh process)" % name)
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--memory-child",
            kind,
            "--words-file",
            path,
        ]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            out[name] = {"error": "timeout %ds" % timeout}
            continue
        if r.returncode != 0:
            log(r.stderr.strip())
            out[name] = {"error": "exit %d" % r.returncode}
            continue
        out[name] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


# ---------------------------------------------------------------------------
# Rows: name -> (queries, fn); fn(query) is timed, its result kept from
# the first round for the checks
# ---------------------------------------------------------------------------


def need_fuzzy_api(TreeMap):
    probe = TreeMap({"cafe": 0, "acfe": 1, "cafes": 2})
    try:
        list(probe.fuzzy_search("cafe", 1, transpositions=True, prefix=True))
        probe.closest("cafe", 2, max_distance=1, transpositions=True)
    except (AttributeError, TypeError) as e:
        raise SystemExit(
            "blart.TreeMap lacks the fuzzy API of issue #20 (%s): install a blart that has "
            "closest() and fuzzy_search(..., transpositions=, prefix=) (make bench-suggest "
            "reinstalls this repository's)" % e
        ) from None


def fifth_best(m, qs):
    """Per query, D: the distance of closest(q, 5)'s last key.  No exact
    search can give the 5 best before it has found every key within D - 1
    (all of them are among the 5), so fuzzy_search(q, D - 1), an
    exhaustive walk to that distance, is the floor of closest(q, 5) for a
    search with no index."""
    return {q: m.closest(q, CLOSEST_N)[-1][2] for q in qs}


def build_rows(m, sym, misspelt, prefixes, dmap):
    qs = [q for q, _, _ in misspelt]
    ps = [p for p, _ in prefixes]
    rows = {
        FUZZY_PLAIN: (qs, lambda q: list(m.fuzzy_search(q, 2))),
        FUZZY_TRANSP: (qs, lambda q: list(m.fuzzy_search(q, 2, transpositions=True))),
        PREFIX: (ps, lambda p: list(m.fuzzy_search(p, 1, prefix=True))),
        CLOSEST: (qs, lambda q: m.closest(q, CLOSEST_N)),
        CLOSEST_TRANSP: (qs, lambda q: m.closest(q, CLOSEST_N, transpositions=True)),
        CLOSEST_BOUNDED: (qs, lambda q: m.closest(q, CLOSEST_N, max_distance=2)),
        FLOOR: (qs, lambda q: list(m.fuzzy_search(q, dmap[q] - 1)) if dmap[q] else []),
    }
    if sym is not None:
        closest = Verbosity.CLOSEST
        rows[SYMSPELL] = (qs, lambda q: sym.lookup(q, closest, 2))
    return rows


def run_rounds(rows, repeat, warmup=20):
    """Every row's queries, one call timed at a time, for repeat rounds
    after an untimed pass over the first warmup queries of each; per row:
    each query's times, each round's total and the first round's
    results."""
    times = {name: [[] for _ in qs] for name, (qs, _) in rows.items()}
    totals = {name: [] for name in rows}
    results = {}
    clock = time.process_time
    # untimed: the first calls of a fresh map (and of the first row) would
    # pay for cold caches and the first touches of its pages
    for qs, fn in rows.values():
        for q in qs[:warmup]:
            fn(q)
    for rnd in range(repeat):
        log("suggest: round %d of %d" % (rnd + 1, repeat))
        for name, (qs, fn) in rows.items():
            keep = [] if rnd == 0 else None
            per = times[name]
            gc_off()
            total = 0.0
            for i, q in enumerate(qs):
                t0 = clock()
                r = fn(q)
                t = clock() - t0
                per[i].append(t)
                total += t
                if keep is not None:
                    keep.append(r)
                del r
            gc_on()
            totals[name].append(total)
            if keep is not None:
                results[name] = keep
    return times, totals, results


def clock_floor(count=2000):
    """The median time the clock reports for an empty interval: what the
    timing adds to every call (not subtracted)."""
    clock = time.process_time
    out = []
    for _ in range(count):
        t0 = clock()
        out.append(clock() - t0)
    return statistics.median(out)


def summarize(name, times, totals, results, edits):
    best = [min(ts) for ts in times]
    row = {
        "queries": len(best),
        "median_s": statistics.median(best),
        "mean_s": statistics.fmean(best),
        "total_s": min(totals),
        "round_totals_s": totals,
        "median_results": statistics.median(len(r) for r in results),
        "mean_results": statistics.fmean(len(r) for r in results),
    }
    if edits is not None:
        for e in (1, 2):
            sub = [t for t, k in zip(best, edits) if k == e]
            if sub:
                row["median_%dedit_s" % e] = statistics.median(sub)
    return row


# ---------------------------------------------------------------------------
# Checks and quality
# ---------------------------------------------------------------------------


def symspell_all(sym, q):
    return {s.term: s.distance for s in sym.lookup(q, Verbosity.ALL, 2)}


def check_fuzzy(m, sym, misspelt, res, limit, index, notes):
    """fuzzy_search's order, values and distances; its key sets against
    symspellpy's ALL lookup, disagreements settled by edit_distance."""
    bad = 0
    sym_only, blart_only = [], []
    for i, (q, _, _) in enumerate(misspelt[:limit]):
        for name, transp in ((FUZZY_PLAIN, False), (FUZZY_TRANSP, True)):
            got = res[name][i]
            keys = [k for k, _, _ in got]
            if keys != sorted(keys) or len(set(keys)) != len(keys):
                bad += 1
                notes.append("WARNING: %s(%r): keys not in ascending order" % (name, q))
            for k, v, d in got:
                if v != index.get(k) or d != edit_distance(q, k, transp) or d > 2:
                    bad += 1
                    if bad <= 10:
                        notes.append(
                            "WARNING: %s(%r) gave (%r, %r, %r): distance %d, index %r"
                            % (name, q, k, v, d, edit_distance(q, k, transp), index.get(k))
                        )
            if sym is None:
                continue
            theirs = symspell_all(sym, q)
            want = {k for k in theirs if edit_distance(q, k, transp) <= 2}
            mine = set(keys)
            for k in want - mine:
                blart_only.append((name, q, k))  # symspell found it, blart did not
            for k in mine - set(theirs):
                sym_only.append((name, q, k))  # blart found it, symspell did not
    for name, q, k in blart_only[:10]:
        notes.append(
            "WARNING: %s(%r) misses %r (distance %d, symspellpy's ALL lookup has it)"
            % (name, q, k, edit_distance(q, k, name == FUZZY_TRANSP))
        )
    if sym is not None:
        notes.append(
            "check: fuzzy_search against symspellpy's ALL lookup (%d queries, both distances): "
            "%d keys only symspellpy found, %d keys only blart found (each verified)"
            % (min(limit, len(misspelt)), len(blart_only), len(sym_only))
        )
    return bad + len(blart_only)


def check_prefix(sorted_words, index, alphabet, prefixes, res, limit, notes):
    bad = 0
    for i, (p, w) in enumerate(prefixes[:limit]):
        got = res[PREFIX][i]
        want = prefix_expected(sorted_words, index, alphabet, p)
        if got != want or not any(k == w for k, _, d in got if d == 0):
            bad += 1
            if bad <= 10:
                g, e = {r[0]: r[2] for r in got}, {r[0]: r[2] for r in want}
                notes.append(
                    "WARNING: %s(%r): %d results, %d expected; %d missing, %d extra, %d with "
                    "another distance"
                    % (
                        PREFIX,
                        p,
                        len(got),
                        len(want),
                        len(e.keys() - g.keys()),
                        len(g.keys() - e.keys()),
                        sum(1 for k in g.keys() & e.keys() if g[k] != e[k]),
                    )
                )
    return bad


def check_closest(m, misspelt, res, limit, notes):
    bad = 0
    for name, transp in ((CLOSEST, False), (CLOSEST_TRANSP, True)):
        for i, (q, _, _) in enumerate(misspelt[:limit]):
            got = res[name][i]
            order = [(d, k) for k, _, d in got]
            top = max((d for d, _ in order), default=0)
            want = sorted(
                m.fuzzy_search(q, top, transpositions=transp), key=lambda r: (r[2], r[0])
            )[:CLOSEST_N]
            if order != sorted(order) or len(got) != min(CLOSEST_N, len(m)) or got != want:
                bad += 1
                if bad <= 10:
                    notes.append(
                        "WARNING: %s(%r) = %r; fuzzy_search(q, %d) gives %r"
                        % (name, q, got, top, want)
                    )
    return bad


def quality(misspelt, res):
    out = {}
    for name in QUALITY:
        if name not in res:
            continue
        hits = {1: 0, 2: 0}
        count = {1: 0, 2: 0}
        for (q, w, e), r in zip(misspelt, res[name]):
            terms = [s.term for s in r] if name == SYMSPELL else [k for k, _, _ in r]
            count[e] += 1
            hits[e] += w in terms
        n = count[1] + count[2]
        out[name] = {
            "hits": hits[1] + hits[2],
            "queries": n,
            "rate": (hits[1] + hits[2]) / n,
            "rate_1edit": hits[1] / count[1] if count[1] else None,
            "rate_2edit": hits[2] / count[2] if count[2] else None,
        }
    if SYMSPELL in res:
        out[SYMSPELL]["mean_suggestions"] = statistics.fmean(len(r) for r in res[SYMSPELL])
    return out


def agreement(res, limit):
    """How often symspellpy's CLOSEST distance equals the first distance of
    blart's closest with transpositions (the same distance)."""
    if SYMSPELL not in res:
        return None
    same = n = 0
    for mine, theirs in zip(res[CLOSEST_TRANSP][:limit], res[SYMSPELL][:limit]):
        if mine and mine[0][2] <= 2:
            n += 1
            same += bool(theirs) and theirs[0].distance == mine[0][2]
    return same, n


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


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

    def git(*a):
        try:
            r = subprocess.run(["git", *a], capture_output=True, text=True, cwd=HERE)
        except OSError:
            return ""
        return r.stdout.strip() if r.returncode == 0 else ""

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
        "git_commit": git("rev-parse", "--short", "HEAD") or "?",
        "git_dirty_sources": bool(git("status", "--porcelain", "--", "../core", "../src")),
        "versions": versions,
    }


def fmt_s(t):
    if t is None:
        return ""
    if t >= 1:
        return "%.2f s" % t
    if t >= 1e-3:
        return "%.2f ms" % (t * 1e3)
    return "%.1f us" % (t * 1e6)


def fmt_ms(t):
    return "" if t is None else "%.3f ms" % (t * 1e3)


def fmt_mb(b):
    return "%.1f MB" % (b / 2**20)


def pct(v):
    return "" if v is None else "%.1f%%" % (100 * v)


def targets_of(rows, builds, memory):
    out = []

    def add(target, value, ok, detail=""):
        out.append({"target": target, "value": value, "ok": ok, "detail": detail})

    a, b = rows.get(FUZZY_PLAIN, {}), rows.get(FUZZY_TRANSP, {})
    if "median_s" in a and "median_s" in b:
        r = b["median_s"] / a["median_s"]
        add(
            "fuzzy_search transpositions / plain, median <= 1.3",
            r,
            r <= 1.3,
            "total %.2f" % (b["total_s"] / a["total_s"]),
        )
    p = rows.get(PREFIX, {})
    if "median_s" in p:
        add(
            "fuzzy_search(p, 1, prefix=True) median <= 2 ms",
            p["median_s"] * 1e3,
            p["median_s"] <= 2e-3,
            "ms, median %g results" % p["median_results"],
        )
    c = rows.get(CLOSEST, {})
    if "median_s" in c:
        add("closest(q, 5) median <= 0.5 ms", c["median_s"] * 1e3, c["median_s"] <= 5e-4, "ms")
    mb, ms = memory.get(MEM_BLART, {}), memory.get(MEM_SYMSPELL, {})
    if "rss_growth" in mb and "rss_growth" in ms:
        r = mb["rss_growth"] / ms["rss_growth"]
        add(
            "memory blart TreeMap / symspellpy SymSpell <= 0.1",
            r,
            r <= 0.1,
            "%s / %s" % (fmt_mb(mb["rss_growth"]), fmt_mb(ms["rss_growth"])),
        )
    return out


def report(res):
    p, mc = res["params"], res["machine"]
    lines = [
        "suggest benchmark  %s  %s (%d cores)  %s  Python %s  commit %s%s"
        % (
            mc["date"],
            mc["cpu"],
            mc["cores"],
            mc["platform"],
            mc["python"],
            mc["git_commit"],
            " (+uncommitted core/src changes)" if mc["git_dirty_sources"] else "",
        ),
        "versions: " + ", ".join("%s %s" % kv for kv in sorted(mc["versions"].items())),
        "map: %d words of %s, each mapped to its index; %d misspelt queries (%d with 1 edit, %d "
        "with 2), %d prefixes; CPU time per call, each query's best of %d rounds"
        % (
            p["wordlist_size"],
            p["wordlist"],
            p["queries"],
            p["queries_1edit"],
            p["queries_2edit"],
            p["prefixes"],
            p["repeat"],
        ),
        "%-38s %10s %10s %10s %10s %8s %8s"
        % ("", "median", "1 edit", "2 edits", "total", "results", "blart/"),
    ]
    rows = res["rows"]
    for _, title, names in GROUPS:
        lines.append(title + ":")
        base = rows.get(names[0], {})
        for name in names:
            r = rows.get(name)
            if r is None:
                continue
            if "error" in r:
                lines.append("  %-36s %s" % (name, r["error"]))
                continue
            ratio = ""
            if name != names[0] and "median_s" in base:
                ratio = "%.3g" % (base["median_s"] / r["median_s"])
            lines.append(
                "  %-36s %10s %10s %10s %10s %8g %8s"
                % (
                    name,
                    fmt_ms(r["median_s"]),
                    fmt_ms(r.get("median_1edit_s")),
                    fmt_ms(r.get("median_2edit_s")),
                    fmt_s(r["total_s"]),
                    r["median_results"],
                    ratio,
                )
            )
    lines.append(
        "(results: the median count per query; blart/: the group's first row's median over this "
        "row's, below 1 blart is faster)"
    )
    lines.append("builds from the %d words, CPU seconds:" % p["wordlist_size"])
    bb = res["builds"].get(BUILD_BLART, {})
    for name in (BUILD_BLART, BUILD_SYMSPELL):
        r = res["builds"].get(name)
        if r is None:
            continue
        if "error" in r:
            lines.append("  %-36s %s" % (name, r["error"]))
            continue
        ratio = ""
        if name != BUILD_BLART and "seconds" in bb:
            ratio = "(%.1f times blart's)" % (r["seconds"] / bb["seconds"])
        lines.append("  %-36s %10s  %s" % (name, fmt_s(r["seconds"]), ratio))
    if res["memory"]:
        lines.append("memory: VmRSS growth of a fresh process building it from the words:")
        ms = res["memory"].get(MEM_SYMSPELL, {})
        for name in (MEM_BLART, MEM_BLART_NONE, MEM_SYMSPELL):
            r = res["memory"].get(name)
            if r is None:
                continue
            if "error" in r:
                lines.append("  %-36s %s" % (name, r["error"]))
                continue
            extra = "%6.1f bytes/word" % (r["rss_growth"] / max(1, r["n"]))
            if name != MEM_SYMSPELL and "rss_growth" in ms:
                extra += "   %.3f of symspellpy's" % (r["rss_growth"] / ms["rss_growth"])
            lines.append("  %-36s %10s  %s" % (name, fmt_mb(r["rss_growth"]), extra))
    lines.append("quality: the word a misspelt query was made from, among the results:")
    for name in QUALITY:
        r = res["quality"].get(name)
        if r is None:
            continue
        lines.append(
            "  %-36s %4d of %d  %6s   (1 edit %s, 2 edits %s)%s"
            % (
                name,
                r["hits"],
                r["queries"],
                pct(r["rate"]),
                pct(r["rate_1edit"]),
                pct(r["rate_2edit"]),
                "  %.2f suggestions a query" % r["mean_suggestions"]
                if "mean_suggestions" in r
                else "",
            )
        )
    lines.append("targets:")
    for t in res["targets"]:
        lines.append(
            "  %-4s %-52s %.3g %s"
            % ("ok" if t["ok"] else "MISS", t["target"], t["value"], t["detail"])
        )
    lines.extend(res["notes"])
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    ap.add_argument(
        "--queries", type=int, help="misspelt queries, and prefix queries (default 300, quick 60)"
    )
    ap.add_argument("--repeat", type=int, help="rounds, best kept per query (default 3, quick 1)")
    ap.add_argument("--quick", action="store_true", help="--queries 60 --repeat 1")
    ap.add_argument(
        "--check", type=int, help="queries whose results are checked (default all of them)"
    )
    ap.add_argument("--seed", type=int, default=20240620)
    ap.add_argument(
        "--no-symspell", action="store_true", help="leave symspellpy's rows out (its build is slow)"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per memory process")
    ap.add_argument(
        "--install-words",
        action="store_true",
        help="apt-get install wamerican-huge if there is no word list (root)",
    )
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument(
        "--memory-child", choices=("blart", "blart-none", "symspell"), help=argparse.SUPPRESS
    )
    ap.add_argument("--words-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.words_file)
        return
    if args.queries is None:
        args.queries = 60 if args.quick else 300
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    check = args.queries if args.check is None else args.check

    from blart import TreeMap

    need_fuzzy_api(TreeMap)
    use_sym = SymSpell is not None and not args.no_symspell
    sym_missing = "left out (--no-symspell)" if args.no_symspell else "not installed"

    if args.install_words and not workloads.find_wordlist():
        workloads.install_wordlist()
    words, source = workloads.gen_words()
    wordset = set(words)
    index = {w: i for i, w in enumerate(words)}
    misspelt = make_misspelt(words, wordset, args.queries, args.seed)
    prefixes = make_prefixes(words, args.queries, args.seed + 1)
    pairs = [(w, i) for i, w in enumerate(words)]

    memory = {}
    if not args.no_memory:
        build = os.path.join(HERE, ".build")
        os.makedirs(build, exist_ok=True)
        path = os.path.join(build, "suggest-words-%d.txt" % os.getpid())
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(words))
        kinds = [(MEM_BLART, "blart"), (MEM_BLART_NONE, "blart-none")]
        if use_sym:
            kinds.append((MEM_SYMSPELL, "symspell"))
        try:
            memory = measure_memory(path, kinds, args.timeout)
        finally:
            os.unlink(path)
        if not use_sym:
            memory[MEM_SYMSPELL] = {"error": sym_missing}

    log("suggest: %d words (%s); building" % (len(words), source))
    builds = {}
    ts = []
    m = None
    for _ in range(args.repeat):
        m = None
        gc_off()
        t0 = time.process_time()
        m = TreeMap(pairs)
        ts.append(time.process_time() - t0)
        gc_on()
    builds[BUILD_BLART] = {"seconds": min(ts), "rounds": ts}
    assert len(m) == len(words)
    sym = None
    if use_sym:
        log("suggest: building symspellpy's SymSpell (10-16 s for 348k words)")
        gc_off()
        t0 = time.process_time()
        sym = SymSpell(max_dictionary_edit_distance=2)
        for w in words:
            sym.create_dictionary_entry(w, 1)
        builds[BUILD_SYMSPELL] = {"seconds": time.process_time() - t0}
        gc_on()
    else:
        builds[BUILD_SYMSPELL] = {"error": sym_missing}

    dmap = fifth_best(m, [q for q, _, _ in misspelt])
    rows = build_rows(m, sym, misspelt, prefixes, dmap)
    times, totals, results = run_rounds(rows, args.repeat)
    edits = [e for _, _, e in misspelt]
    out_rows = {}
    for name, (qs, _) in rows.items():
        out_rows[name] = summarize(
            name, times[name], totals[name], results[name], None if name == PREFIX else edits
        )
    if not use_sym:
        out_rows[SYMSPELL] = {"error": sym_missing}

    log("suggest: checking the results of %d queries" % check)
    floor = clock_floor()
    dist = {}
    for d in dmap.values():
        dist[d] = dist.get(d, 0) + 1
    notes = [
        "clock: an empty interval measures %.2f us (in every call's time, not subtracted)"
        % (floor * 1e6),
        "D, the distance of the 5th closest word: "
        + ", ".join("%d for %d queries" % (d, dist[d]) for d in sorted(dist))
        + " (the floor row walks every key within D - 1, which the 5 best include)",
    ]
    sorted_words = sorted(words)
    alphabet = sorted(set("".join(words)))
    bad = check_fuzzy(m, sym, misspelt, results, check, index, notes)
    bad += check_prefix(sorted_words, index, alphabet, prefixes, results, check, notes)
    bad += check_closest(m, misspelt, results, check, notes)
    agree = agreement(results, check)
    if agree:
        notes.append(
            "check: symspellpy's CLOSEST distance equals blart closest(transpositions=True)'s "
            "first distance for %d of the %d queries whose closest word is within 2" % agree
        )
    notes.append(
        "checks: %s (%d queries of each row checked)"
        % ("all passed" if not bad else "%d FAILED" % bad, min(check, args.queries))
    )

    res = {
        "machine": machine(),
        "params": {
            "wordlist": source,
            "wordlist_size": len(words),
            "queries": len(misspelt),
            "queries_1edit": edits.count(1),
            "queries_2edit": edits.count(2),
            "prefixes": len(prefixes),
            "prefix_len": PREFIX_LEN,
            "closest_n": CLOSEST_N,
            "repeat": args.repeat,
            "checked": min(check, args.queries),
            "seed": args.seed,
        },
        "rows": out_rows,
        "builds": builds,
        "memory": memory,
        "quality": quality(misspelt, results),
        "fifth_best_distance": {str(d): c for d, c in sorted(dist.items())},
        "checks_failed": bad,
        "clock_floor_s": floor,
        "notes": notes,
    }
    res["targets"] = targets_of(out_rows, builds, memory)
    log(report(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        log("wrote", args.json)


if __name__ == "__main__":
    main()
