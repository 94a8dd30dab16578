"""One implementation, one workload, one size, in a process of its own.

    python worker.py --impl NAME --keys FILE --queries FILE [--mode time|memory]

Prints progress on stderr and one JSON object on the last line of stdout.
Standard library only (besides the implementation measured): it runs in the
bench venv and in the blart-py venv alike.

Timed loops are plain Python loops of the form a user writes (`m[k]`,
`k in m`, `for k, v in m.items()`), identical for every implementation
unless its API differs; the cyclic GC is off while a loop runs (as in
timeit) and every heap object that exists before the loop is frozen out of
its reach, so collections never land in a timed region.
"""

import argparse
import bisect
import gc
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads

VALUE = 1  # every key maps to the same object: values cost no memory


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def dist_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


# ---------------------------------------------------------------------------
# Timed loops shared by the mapping types
# ---------------------------------------------------------------------------


def loop_set(m, keys):
    v = VALUE
    for k in keys:
        m[k] = v


def loop_get(m, keys):
    for k in keys:
        m[k]


def loop_contains(m, keys):
    for k in keys:
        k in m


def loop_del(m, keys):
    for k in keys:
        del m[k]


def loop_pairs(it):
    n = 0
    for k, v in it:
        n += 1
    return n


def loop_empty(keys):
    for k in keys:
        pass


def succ(p):
    return p[:-1] + chr(ord(p[-1]) + 1)


# ---------------------------------------------------------------------------
# Implementations.  Each is a small class; a method that is missing means the
# operation does not exist for that peer (it is reported as n/a).
# ---------------------------------------------------------------------------


class Dict:
    name = "dict"
    dist = None
    static = False

    def version(self):
        return sys.version.split()[0]

    def empty(self, keys):
        return {}

    def build(self, keys):
        m = self.empty(keys)
        loop_set(m, keys)
        return m

    def build_stream(self, key_iter, keys_path):
        m = self.empty(None)
        v = VALUE
        for k in key_iter:
            m[k] = v
        return m

    def lookup(self, m, keys):
        loop_get(m, keys)

    def contains(self, m, keys):
        loop_contains(m, keys)

    def delete(self, m, keys):
        loop_del(m, keys)

    def items(self, m):
        return loop_pairs(m.items())

    # prefix/range for dict are answered by a sorted list of the keys searched
    # with bisect, the pairs made from the dict (the usual pure-Python
    # baseline, and issue #17's: `[(k, d[k]) for k in keys[lo:hi]]` after two
    # bisect calls, which makes the same result objects a prefix_iter does);
    # prepare_sorted makes the list.
    def prepare_sorted(self, m):
        self._sk = sorted(m)

    def prefix(self, m, p):
        return self.range(m, p, succ(p))

    def range(self, m, a, b):
        sk = self._sk
        lo, hi = bisect.bisect_left(sk, a), bisect.bisect_left(sk, b)
        return [(k, m[k]) for k in sk[lo:hi]]

    def sorted_items(self, m):
        return loop_pairs(sorted(m.items()))

    def prefix_scan(self, m, p):
        return [(k, v) for k, v in m.items() if k.startswith(p)]


class Blart(Dict):
    name = "blart"
    dist = "blart"

    def __init__(self):
        import blart

        if not hasattr(blart, "BytesTreeMap"):
            raise RuntimeError("the blart imported here is not this project's")
        self.mod = blart

    def version(self):
        return dist_version("blart") or getattr(self.mod, "__version__", "?")

    def empty(self, keys):
        return self.mod.TreeMap()

    def items(self, m):
        return loop_pairs(m.items())

    prepare_sorted = None
    sorted_items = None
    prefix_scan = None

    def prefix(self, m, p):
        return list(m.prefix_iter(p))

    def range(self, m, a, b):
        return list(m.range(a, b))

    def fuzzy(self, m, q, d):
        return list(m.fuzzy_search(q, d))

    def explain(self, m):
        out = {}
        if hasattr(m, "stats"):
            out["stats"] = m.stats()
        try:
            out["getsizeof"] = sys.getsizeof(m)
        except Exception:
            pass
        return out


class BlartPy(Blart):
    name = "blart-py"
    dist = "blart-py"

    def __init__(self):
        import blart

        if hasattr(blart, "BytesTreeMap"):
            raise RuntimeError("this is the project's blart, not blart-py: use its own venv")
        self.mod = blart

    def version(self):
        return dist_version("blart-py")

    range = None

    def prefix(self, m, p):
        return list(m.prefix_iter(p))


class SortedDictImpl(Dict):
    name = "SortedDict"
    dist = "sortedcontainers"

    def __init__(self):
        from sortedcontainers import SortedDict

        self.cls = SortedDict

    def version(self):
        return dist_version(self.dist)

    def empty(self, keys):
        return self.cls()

    prepare_sorted = None
    sorted_items = None
    prefix_scan = None

    def prefix(self, m, p):
        return list(m.irange(p, succ(p), inclusive=(True, False)))

    def range(self, m, a, b):
        return list(m.irange(a, b, inclusive=(True, False)))


class OOBTreeImpl(Dict):
    name = "OOBTree"
    dist = "BTrees"

    def __init__(self):
        from BTrees.OOBTree import OOBTree

        self.cls = OOBTree

    def version(self):
        return dist_version(self.dist)

    def empty(self, keys):
        return self.cls()

    prepare_sorted = None
    sorted_items = None
    prefix_scan = None

    def prefix(self, m, p):
        return list(m.items(p, succ(p), excludemax=True))

    def range(self, m, a, b):
        return list(m.items(a, b, excludemax=True))


class PygtrieImpl(Dict):
    name = "pygtrie"
    dist = "pygtrie"
    max_delete = 20000

    def __init__(self):
        import pygtrie

        self.cls = pygtrie.CharTrie

    def version(self):
        return dist_version(self.dist)

    def empty(self, keys):
        t = self.cls()
        t.enable_sorting(True)  # ordered iteration, like every other peer
        return t

    prepare_sorted = None
    sorted_items = None
    prefix_scan = None
    range = None

    def items(self, m):
        return loop_pairs(m.iteritems())

    def prefix(self, m, p):
        try:
            return list(m.iteritems(prefix=p))
        except KeyError:
            return []


class DatrieImpl(Dict):
    name = "datrie"
    dist = "datrie"
    max_delete = 20000

    def __init__(self):
        import datrie

        self.mod = datrie

    def version(self):
        return dist_version(self.dist)

    def _alphabet(self, keys_or_path):
        # datrie needs its alphabet up front: every character of the keys.
        chars = set()
        if isinstance(keys_or_path, str):
            with open(keys_or_path, encoding="utf-8") as f:
                for line in f:
                    chars.update(line)
            chars.discard("\n")
        else:
            for k in keys_or_path:
                chars.update(k)
        return "".join(sorted(chars))

    def empty(self, keys):
        return self.mod.Trie(self._alpha)

    def build(self, keys):
        if not hasattr(self, "_alpha"):
            self._alpha = self._alphabet(keys)
        return Dict.build(self, keys)

    def build_stream(self, key_iter, keys_path):
        self._alpha = self._alphabet(keys_path)
        return Dict.build_stream(self, key_iter, keys_path)

    prepare_sorted = None
    sorted_items = None
    prefix_scan = None
    range = None

    def items(self, m):
        return loop_pairs(m.items())  # a sorted list of pairs

    def prefix(self, m, p):
        return m.items(p)


class MarisaImpl(Dict):
    name = "marisa-trie"
    dist = "marisa-trie"
    static = True  # built once from all keys; no insert or delete

    def __init__(self):
        import marisa_trie

        self.mod = marisa_trie

    def version(self):
        return dist_version(self.dist)

    def build(self, keys):
        return self.mod.Trie(keys)

    def build_stream(self, key_iter, keys_path):
        return self.mod.Trie(key_iter)

    delete = None
    prepare_sorted = None
    sorted_items = None
    prefix_scan = None
    range = None

    def items(self, m):
        # (key, id) pairs in the trie's own order, which is not sorted.
        return loop_pairs(m.iteritems())

    def prefix(self, m, p):
        return m.keys(p)


class RapidfuzzImpl:
    """Fuzzy search only: a linear scan of the word list in C++."""

    name = "rapidfuzz"
    dist = "rapidfuzz"
    static = True

    def __init__(self):
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        self.process = process
        self.scorer = Levenshtein.distance

    def version(self):
        return dist_version(self.dist)

    def build(self, keys):
        return list(keys)

    def fuzzy(self, m, q, d):
        return self.process.extract(q, m, scorer=self.scorer, score_cutoff=d, limit=None)


class SymspellImpl:
    """Fuzzy search only: symmetric-delete index (Levenshtein comparer)."""

    name = "symspellpy"
    dist = "symspellpy"
    static = True

    def __init__(self):
        import symspellpy
        from symspellpy.editdistance import DistanceAlgorithm, EditDistance

        self.mod = symspellpy
        self.cmp = EditDistance(DistanceAlgorithm.LEVENSHTEIN)

    def version(self):
        return dist_version(self.dist)

    def build(self, keys):
        s = self.mod.SymSpell(
            max_dictionary_edit_distance=2, prefix_length=7, distance_comparer=self.cmp
        )
        for k in keys:
            s.create_dictionary_entry(k, 1)
        return s

    def fuzzy(self, m, q, d):
        return m.lookup(
            q,
            self.mod.Verbosity.ALL,
            max_edit_distance=d,
            include_unknown=False,
            transfer_casing=False,
        )


IMPLS = {
    "dict": Dict,
    "blart": Blart,
    "blart-py": BlartPy,
    "SortedDict": SortedDictImpl,
    "OOBTree": OOBTreeImpl,
    "pygtrie": PygtrieImpl,
    "datrie": DatrieImpl,
    "marisa-trie": MarisaImpl,
    "rapidfuzz": RapidfuzzImpl,
    "symspellpy": SymspellImpl,
}

# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------


# CPU time of this process (user + system, page faults included), not wall
# time: on a shared machine a wall clock also counts the time the process
# waited for a core.  --wall switches back to time.perf_counter.
CLOCK = time.process_time


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Timer:
    def __init__(self, budget, max_reps):
        self.budget = budget
        self.max_reps = max_reps

    def run(self, fn, setup=None):
        """Runs fn(setup()) (or fn(None)) repeatedly until max_reps runs or
        the time budget is spent, at least once; returns the list of run
        times in seconds.  setup() is not timed."""
        samples = []
        start = time.perf_counter()
        while True:
            arg = setup() if setup else None
            gc.collect()
            gc.freeze()
            gc.disable()
            t0 = CLOCK()
            fn(arg)
            t1 = CLOCK()
            gc.enable()
            samples.append(t1 - t0)
            arg = None
            if len(samples) >= self.max_reps or time.perf_counter() - start > self.budget:
                return samples


def record(samples, count, **extra):
    best = min(samples)
    out = {
        "ns_per_op": best / count * 1e9,
        "median_ns_per_op": statistics.median(samples) / count * 1e9,
        "ops": count,
        "reps": len(samples),
        "seconds": samples,
    }
    out.update(extra)
    return out


def run_time(impl, keys_path, queries_path, ops, budget, max_reps, seed):
    keys = workloads.load_keys(keys_path)
    with open(queries_path, encoding="utf-8") as f:
        q = json.load(f)
    n = len(keys)
    rng = random.Random(seed)
    hit = keys[:]
    rng.shuffle(hit)
    blob = "\n".join(hit).encode("utf-8")
    half = keys[::2]
    rng.shuffle(half)
    misses = q["misses"]
    timer = Timer(budget, max_reps)
    res = {}
    info = {"n": n}
    gc.collect()
    gc.freeze()

    def say(op, r):
        extra = ""
        if "median_ms" in r:
            extra = " median %.3f ms/query" % r["median_ms"]
        log(
            "    %-12s %-13s %10.1f ns/op  (%d reps)%s"
            % (impl.name, op, r["ns_per_op"], r["reps"], extra)
        )

    info["loop_overhead_ns"] = min(timer.run(lambda _: loop_empty(hit))) / n * 1e9

    state = {}

    def build(_):
        state["m"] = impl.build(keys)

    def drop():
        state.pop("m", None)
        gc.collect()

    if not hasattr(impl, "build") or impl.build is None:
        return res, info
    s = timer.run(build, setup=drop)
    m = state["m"]
    if "build" in ops and impl.name != "rapidfuzz":
        res["build"] = record(s, n)
        say("build", res["build"])
    try:
        info["n_stored"] = len(m)
    except TypeError:
        info["n_stored"] = None
    if hasattr(impl, "explain"):
        info.update(impl.explain(m))

    def has(name):
        return getattr(impl, name, None) is not None

    if "lookup_hit" in ops and has("lookup"):
        try:
            for k in hit[:1000]:
                m[k]
            res["lookup_hit"] = record(timer.run(lambda _: impl.lookup(m, hit)), n)
            say("lookup_hit", res["lookup_hit"])
        except KeyError as e:
            res["lookup_hit"] = {"error": "KeyError %r: the map lost keys" % (e.args[:1],)}
            log("    %s lookup_hit: lost keys" % impl.name)
    if "lookup_fresh" in ops and has("lookup"):
        # Equal strings built right before the loop: their hash is not
        # cached yet, as for keys read from a file or a socket.
        def fresh():
            return blob.decode("utf-8").split("\n")

        try:
            res["lookup_fresh"] = record(timer.run(lambda ks: impl.lookup(m, ks), setup=fresh), n)
            say("lookup_fresh", res["lookup_fresh"])
        except KeyError:
            res["lookup_fresh"] = {"error": "the map lost keys"}
    if "lookup_miss" in ops and has("contains") and misses:
        res["lookup_miss"] = record(timer.run(lambda _: impl.contains(m, misses)), len(misses))
        say("lookup_miss", res["lookup_miss"])
    if "items" in ops and has("items"):
        cnt = []
        res["items"] = record(timer.run(lambda _: cnt.append(impl.items(m))), n)
        res["items"]["count"] = cnt[-1]
        say("items", res["items"])
    if "items" in ops and has("sorted_items"):
        res["sorted_items"] = record(timer.run(lambda _: impl.sorted_items(m)), n)
        say("sorted_items", res["sorted_items"])
    if has("prepare_sorted") and ({"prefix", "range"} & set(ops)):
        t0 = time.perf_counter()
        impl.prepare_sorted(m)
        info["prepare_sorted_s"] = time.perf_counter() - t0
    for op, queries, call in (
        ("prefix", q["prefixes"], lambda p: impl.prefix(m, p)),
        ("range", q["ranges"], lambda ab: impl.range(m, ab[0], ab[1])),
    ):
        if op in ops and has(op) and queries:
            counts = []

            def go(_, queries=queries, call=call, counts=counts):
                counts.clear()
                for x in queries:
                    counts.append(len(call(x)))

            res[op] = record(
                timer.run(go),
                len(queries),
                results=sum(counts),
                mean_results=sum(counts) / len(counts),
            )
            say(op, res[op])
    if "prefix" in ops and has("prefix_scan") and q["prefixes"]:
        few = q["prefixes"][:3]
        res["prefix_scan"] = record(
            timer.run(lambda _: [impl.prefix_scan(m, p) for p in few]), len(few)
        )
        say("prefix_scan", res["prefix_scan"])
    if has("fuzzy") and q.get("fuzzy"):
        for d in (1, 2):
            op = "fuzzy%d" % d
            if op not in ops:
                continue
            per, counts = [], []
            start = time.perf_counter()
            qbudget = max(budget * 3, 2.0)
            for x in q["fuzzy"]:
                t0 = CLOCK()
                r = impl.fuzzy(m, x, d)
                per.append(CLOCK() - t0)
                counts.append(len(r))
                if len(per) >= 10 and time.perf_counter() - start > qbudget:
                    break
            res[op] = record(
                [sum(per)],
                len(per),
                median_ms=statistics.median(per) * 1e3,
                mean_ms=statistics.mean(per) * 1e3,
                counts=counts,
            )
            say(op, res[op])
    if "delete_half" in ops and has("delete"):
        # The first run deletes from the map built above; later runs from
        # a map rebuilt (untimed) before each.
        pending = [state.pop("m")]
        m = None

        def fresh_map():
            if pending:
                return pending.pop()
            gc.collect()
            return impl.build(keys)

        try:
            # Peers whose delete is very slow (datrie: ~0.1 ms) delete only
            # the first max_delete keys of the half; ns/op stays comparable.
            dels = half[: getattr(impl, "max_delete", None) or len(half)]
            res["delete_half"] = record(
                timer.run(lambda mm: impl.delete(mm, dels), setup=fresh_map), len(dels)
            )
            say("delete_half", res["delete_half"])
        except KeyError:
            res["delete_half"] = {"error": "the map lost keys"}
    return res, info


def run_memory(impl, keys_path):
    """RSS growth while the map is built from keys made one at a time (each
    a new str read from the file and dropped by the caller right after the
    insert), so a map that keeps its key objects pays for them."""
    gc.collect()
    base = rss_bytes()
    m = impl.build_stream(workloads.iter_keys(keys_path), keys_path)
    gc.collect()
    after = rss_bytes()
    out = {"rss_growth": after - base, "rss_base": base}
    try:
        out["n_stored"] = len(m)
    except TypeError:
        pass
    if hasattr(impl, "explain"):
        out.update(impl.explain(m))
    if isinstance(m, dict):
        out["getsizeof_table"] = sys.getsizeof(m)
        out["getsizeof_keys"] = sum(sys.getsizeof(k) for k in m)
    return out


# ---------------------------------------------------------------------------
# Persistence (blart only): TreeMap.save / TreeMap.load / FrozenTreeMap
# against pickle, and the memory of processes sharing one saved file
# ---------------------------------------------------------------------------


def smaps_rollup():
    """/proc/self/smaps_rollup as {field: bytes} (Rss, Pss, Private_Clean...)."""
    out = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def smaps_of(path):
    """The fields of /proc/self/smaps summed over the mappings of `path`."""
    real = os.path.realpath(path)
    out, mine = {}, False
    with open("/proc/self/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if not parts[0].endswith(":"):  # a mapping's header line
                mine = len(parts) >= 6 and " ".join(parts[5:]) == real
                if mine:
                    out["mappings"] = out.get("mappings", 0) + 1
            elif mine and len(parts) == 3 and parts[2] == "kB":
                key = parts[0].rstrip(":")
                out[key] = out.get(key, 0) + int(parts[1]) * 1024
    return out


def private(sm):
    return sm.get("Private_Clean", 0) + sm.get("Private_Dirty", 0)


class Clocks:
    """The worker's clock (CPU time unless --wall) and the wall clock of
    the same stretch, with the cyclic GC off as in Timer.run."""

    def __init__(self):
        self.samples = {}

    def time(self, name, fn):
        gc.collect()
        gc.freeze()
        gc.disable()
        w0, t0 = time.perf_counter(), CLOCK()
        r = fn()
        t1, w1 = CLOCK(), time.perf_counter()
        gc.enable()
        self.samples.setdefault(name, []).append((t1 - t0, w1 - w0))
        return r

    def best(self, name):
        s = self.samples[name]
        return {
            "s": min(c for c, _ in s),
            "wall_s": min(w for _, w in s),
            "median_s": statistics.median(c for c, _ in s),
            "reps": len(s),
            "seconds": [c for c, _ in s],
        }


def run_persist(keys_path, queries_path, work_dir, max_reps, seed):
    """Times m.save(path) against pickle.dump(m) and pickle.dump(dict(m)),
    TreeMap.load against pickle.load of both, FrozenTreeMap(path), and
    queries on the FrozenTreeMap and on the loaded map against the map
    built by inserts.  Every repetition runs the operations compared one
    after the other (interleaved), so a slow stretch of a busy machine hits
    all of them; the best of the repetitions is kept.  Values are distinct
    ints (the key's position in the workload), stored natively in the
    file.  Leaves the saved file in work_dir for the memory processes."""
    import pickle

    import blart

    keys = workloads.load_keys(keys_path)
    with open(queries_path, encoding="utf-8") as f:
        q = json.load(f)
    n = len(keys)
    rng = random.Random(seed)
    hit = keys[:]
    rng.shuffle(hit)
    m = blart.TreeMap()
    for i, k in enumerate(keys):
        m[k] = i
    d = dict(m)  # key order, as a user converting the map would have it
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "map.blart")
    tree_pkl = os.path.join(work_dir, "treemap.pickle")
    dict_pkl = os.path.join(work_dir, "dict.pickle")
    c = Clocks()
    gc.collect()
    gc.freeze()

    def dump(obj, p):
        with open(p, "wb") as f:
            pickle.dump(obj, f, protocol=5)

    def unpickle(p):
        with open(p, "rb") as f:
            return pickle.load(f)

    for _ in range(max_reps):
        c.time("save", lambda: m.save(path))
        c.time("pickle_tree", lambda: dump(m, tree_pkl))
        c.time("pickle_dict", lambda: dump(d, dict_pkl))
    sizes = {
        "file": os.path.getsize(path),
        "pickle_tree": os.path.getsize(tree_pkl),
        "pickle_dict": os.path.getsize(dict_pkl),
    }
    log(
        "    persist save %.3f s, pickle(TreeMap) %.3f s, pickle(dict) %.3f s; file %.1f MB, "
        "pickles %.1f / %.1f MB"
        % (
            c.best("save")["s"],
            c.best("pickle_tree")["s"],
            c.best("pickle_dict")["s"],
            sizes["file"] / 2**20,
            sizes["pickle_tree"] / 2**20,
            sizes["pickle_dict"] / 2**20,
        )
    )

    checks = {}
    for r in range(max_reps):
        loaded = c.time("load", lambda: blart.TreeMap.load(path))
        if r == 0:
            checks["load_equal"] = loaded == m
        del loaded
        t = c.time("unpickle_tree", lambda: unpickle(tree_pkl))
        if r == 0:
            checks["unpickle_tree_equal"] = t == m
        del t
        t = c.time("unpickle_dict", lambda: unpickle(dict_pkl))
        if r == 0:
            checks["unpickle_dict_equal"] = t == d
        del t
        fz = c.time("open", lambda: blart.FrozenTreeMap(path))
        del fz
    log(
        "    persist load %.3f s, unpickle(TreeMap) %.3f s, unpickle(dict) %.3f s, open %.4f s"
        % (
            c.best("load")["s"],
            c.best("unpickle_tree")["s"],
            c.best("unpickle_dict")["s"],
            c.best("open")["s"],
        )
    )

    # Queries: the map built by inserts (as in the other columns), the
    # loaded one (its nodes allocated in key order) and the FrozenTreeMap.
    loaded = blart.TreeMap.load(path)
    fz = blart.FrozenTreeMap(path)
    sample = hit[:1000]
    checks["frozen_len"] = len(fz) == n
    checks["frozen_values"] = all(fz[k] == m[k] for k in sample)
    checks["frozen_first_last"] = fz.first() == m.first() and fz.last() == m.last()
    pkl = pickle.dumps(fz)
    checks["frozen_pickle_roundtrip"] = len(pickle.loads(pkl)) == n
    maps = {"tree": m, "loaded": loaded, "frozen": fz}
    prefixes = q["prefixes"]
    fuzzy = q.get("fuzzy") or []
    if prefixes:
        want = [[k for k, _ in m.prefix_iter(p)] for p in prefixes[:20]]
        checks["frozen_prefix"] = want == [[k for k, _ in fz.prefix_iter(p)] for p in prefixes[:20]]
    if fuzzy:
        want = [list(m.fuzzy_search(x, 2)) for x in fuzzy[:20]]
        checks["frozen_fuzzy"] = want == [list(fz.fuzzy_search(x, 2)) for x in fuzzy[:20]]
    for r in range(max_reps):
        # A FrozenTreeMap just opened has no page mapped: its first pass
        # takes the page faults (from the page cache) that a fresh process
        # pays once.
        first = blart.FrozenTreeMap(path)
        c.time("hit_frozen_first", lambda first=first: loop_get(first, hit))
        del first
        for name, mm in maps.items():
            c.time("hit_" + name, lambda mm=mm: loop_get(mm, hit))
        for name, mm in maps.items():
            c.time("items_" + name, lambda mm=mm: loop_pairs(mm.items()))
        if prefixes:
            for name, mm in maps.items():
                c.time("prefix_" + name, lambda mm=mm: [list(mm.prefix_iter(p)) for p in prefixes])
        if fuzzy:
            for name, mm in maps.items():
                c.time("fuzzy2_" + name, lambda mm=mm: [list(mm.fuzzy_search(x, 2)) for x in fuzzy])
    counts = {"hit": n, "items": n, "prefix": len(prefixes), "fuzzy2": len(fuzzy)}
    times = {name: c.best(name) for name in c.samples}
    for name, t in times.items():
        op = name.split("_")[0]
        if counts.get(op):
            t["ns_per_op"] = t["s"] / counts[op] * 1e9
    # Saving, loading and opening are compared by wall-clock time: load
    # checks the nodes on a second thread while this one decodes values,
    # and CPU time would count both threads.
    ratios = {
        "save_vs_pickle_tree": times["pickle_tree"]["wall_s"] / times["save"]["wall_s"],
        "save_vs_pickle_dict": times["pickle_dict"]["wall_s"] / times["save"]["wall_s"],
        "load_vs_unpickle_tree": times["unpickle_tree"]["wall_s"] / times["load"]["wall_s"],
        "load_vs_unpickle_dict": times["unpickle_dict"]["wall_s"] / times["load"]["wall_s"],
        "open_vs_unpickle_tree": times["unpickle_tree"]["wall_s"] / times["open"]["wall_s"],
        "file_vs_pickle_tree": sizes["file"] / sizes["pickle_tree"],
        "file_vs_pickle_dict": sizes["file"] / sizes["pickle_dict"],
    }
    for op in ("hit", "items", "prefix", "fuzzy2"):
        base = times.get(op + "_tree")
        if base:
            for name in ("frozen", "loaded"):
                ratios["%s_%s_vs_tree" % (op, name)] = times[op + "_" + name]["s"] / base["s"]
    ratios["hit_frozen_first_vs_tree"] = times["hit_frozen_first"]["s"] / times["hit_tree"]["s"]
    for k, v in sorted(ratios.items()):
        log("    persist %-28s %.3f" % (k, v))
    bad = [k for k, v in checks.items() if not v]
    if bad:
        log("    persist: CHECK FAILED: %s" % ", ".join(bad))
    return {
        "n": n,
        "path": path,
        "sizes": sizes,
        "frozen_pickle_bytes": len(pkl),
        "times": times,
        "ratios": ratios,
        "checks": checks,
        "stats": m.stats(),
    }


def run_touch(keys_path, path, how, lookups, seed, hold, warm=True):
    """One process of the shared-memory measurement: opens the saved file
    (how = "frozen": FrozenTreeMap; "load": TreeMap.load, a private copy),
    looks up `lookups` random keys, and reports the growth of its memory
    (/proc/self/smaps_rollup) from before the open to after the lookups,
    and the lines of /proc/self/smaps of the file's mapping.  With hold, it
    then waits until its standard input closes, keeping the file mapped,
    so that a second process can be measured beside it.  With warm, a
    one-key file is opened the same way first, so that the growth measured
    is that of this file, not of the first open's imports."""
    import blart

    keys = workloads.load_keys(keys_path)  # kept alive: no freed heap to reuse
    rng = random.Random(seed)
    sample = rng.sample(keys, min(lookups, len(keys)))
    # The first open in a process imports the modules that map files (a
    # fixed cost, about 1 MB, whatever the file): pay it on a small file
    # first, and report it apart.
    gc.collect()
    warm0 = smaps_rollup()
    if warm:
        tiny = os.path.join(os.path.dirname(os.path.abspath(path)), "warm-%d.blart" % os.getpid())
        blart.TreeMap({"warm": 1}).save(tiny)
        w = blart.FrozenTreeMap(tiny) if how == "frozen" else blart.TreeMap.load(tiny)
        w["warm"]
        del w
        os.unlink(tiny)
    gc.collect()
    gc.freeze()
    gc.disable()
    before = smaps_rollup()
    t0 = time.perf_counter()
    m = blart.FrozenTreeMap(path) if how == "frozen" else blart.TreeMap.load(path)
    t1 = time.perf_counter()
    opened = smaps_rollup()
    for k in sample:
        m[k]
    t2 = time.perf_counter()
    after = smaps_rollup()
    mapping = smaps_of(path)
    gc.enable()
    fields = ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty", "Anonymous")
    out = {
        "how": how,
        "pid": os.getpid(),
        "lookups": len(sample),
        "file_bytes": os.path.getsize(path),
        "open_s": t1 - t0,
        "lookups_s": t2 - t1,
        "before": {f: before.get(f, 0) for f in fields},
        "warm_up": warm,
        "warm_up_growth": {f: before.get(f, 0) - warm0.get(f, 0) for f in fields},
        "growth_open": {f: opened.get(f, 0) - before.get(f, 0) for f in fields},
        "growth": {f: after.get(f, 0) - before.get(f, 0) for f in fields},
        "mapping": mapping,
    }
    out["growth"]["Private"] = private(after) - private(before)
    out["growth_open"]["Private"] = private(opened) - private(before)
    print(json.dumps(out), flush=True)
    if hold:
        sys.stdin.read()  # until the parent closes our stdin
    del m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True, choices=sorted(IMPLS))
    ap.add_argument("--keys", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--mode", choices=("time", "memory", "persist", "touch"), default="time")
    ap.add_argument(
        "--ops",
        default="build,lookup_hit,lookup_fresh,lookup_miss,items,prefix,range,fuzzy1,fuzzy2,delete_half",
    )
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per timed operation (soft)")
    ap.add_argument("--max-reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--wall", action="store_true", help="time with the wall clock, not CPU time")
    ap.add_argument("--dir", help="persist: where to write the files")
    ap.add_argument("--file", help="touch: the saved map to open")
    ap.add_argument(
        "--how", choices=("frozen", "load"), default="frozen", help="touch: how to open"
    )
    ap.add_argument("--lookups", type=int, default=100000, help="touch: random lookups")
    ap.add_argument("--hold", action="store_true", help="touch: wait for stdin to close")
    ap.add_argument(
        "--no-warm", action="store_true", help="touch: no warm-up open of a one-key file first"
    )
    a = ap.parse_args()
    global CLOCK
    if a.wall:
        CLOCK = time.perf_counter
    if a.mode == "touch":
        run_touch(a.keys, a.file, a.how, a.lookups, a.seed, a.hold, not a.no_warm)
        return
    impl = IMPLS[a.impl]()
    out = {
        "impl": a.impl,
        "version": impl.version(),
        "mode": a.mode,
        "clock": "wall" if a.wall else "process_time",
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }
    if a.mode == "persist":
        out["persist"] = run_persist(a.keys, a.queries, a.dir, a.max_reps, a.seed)
    elif a.mode == "memory":
        out["memory"] = run_memory(impl, a.keys)
        log("    %-12s memory        %10.1f MB" % (a.impl, out["memory"]["rss_growth"] / 2**20))
    else:
        out["results"], out["info"] = run_time(
            impl, a.keys, a.queries, a.ops.split(","), a.budget, a.max_reps, a.seed
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
