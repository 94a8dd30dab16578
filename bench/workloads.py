"""Deterministic key sets and query sets for the blart benchmark.

Everything here uses the standard library only, because the same module is
imported by workers that run in different virtual environments.  Every
generator is seeded, so two processes (or two machines) asked for the same
workload and size get the same keys in the same order.

Files written to the cache directory (bench/.cache by default):

    <workload>-<n>.keys        the n keys, one per line, in insertion order
    <workload>-<n>.json        misses, prefixes, ranges and fuzzy queries

Keys never contain a newline, so a keys file is split on "\\n".
"""

import bisect
import json
import os
import random
import subprocess
import sys

FORMAT_VERSION = 3  # bump when a generator changes: old cache files are ignored

WORDLISTS = (
    "/usr/share/dict/american-english-huge",
    "/usr/share/dict/british-english-huge",
)

WORKLOADS = ("urls", "hex", "ids", "words")

# ---------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------

_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"


def _syllables(rng, lo, hi):
    return "".join(
        rng.choice(_CONSONANTS)
        + rng.choice(_VOWELS)
        + (rng.choice(_CONSONANTS) if rng.random() < 0.3 else "")
        for _ in range(rng.randint(lo, hi))
    )


def _zipf_cum_weights(count, s=1.1):
    out, acc = [], 0.0
    for i in range(count):
        acc += 1.0 / (i + 1) ** s
        out.append(acc)
    return out


def gen_urls(n, seed=20240501):
    """n distinct URL-like keys sharing long prefixes, no key a prefix of
    another (so peers that drop prefix keys store all of them).

    Hosts and path segments are drawn from Zipf-like distributions, so a
    few hosts and directories are very common (long shared prefixes, dense
    upper nodes) and a long tail is rare (sparse lower nodes), like a crawl
    log or a web cache's key space.
    """
    rng = random.Random(seed)
    tlds = ["com", "org", "net", "io", "de", "co.uk", "fr", "edu", "gov", "info"]
    hosts = []
    for i in range(4000):
        sub = rng.choice(["www.", "www.", "", "api.", "cdn.", "blog.", "shop.", "m."])
        hosts.append(sub + _syllables(rng, 1, 4) + "." + rng.choice(tlds))
    host_w = _zipf_cum_weights(len(hosts))
    dirs = [_syllables(rng, 1, 3) for _ in range(3000)]
    dir_w = _zipf_cum_weights(len(dirs), 0.9)
    leaves = [_syllables(rng, 1, 4) for _ in range(20000)]
    exts = [".html", ".php", "/", ".json", ".jpg", ".png", ""]
    out, seen = [], set()
    # Draw in batches of hosts for speed; random.choices is the slow part.
    while len(out) < n:
        batch = max(1000, (n - len(out)) * 11 // 10)
        hs = rng.choices(hosts, cum_weights=host_w, k=batch)
        for h in hs:
            scheme = "https://" if rng.random() < 0.8 else "http://"
            depth = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
            path = "/".join(rng.choices(dirs, cum_weights=dir_w, k=depth))
            leaf = rng.choice(leaves)
            r = rng.random()
            if r < 0.35:
                leaf += "-%d" % rng.randrange(100000)
            ext = rng.choice(exts)
            if ext == ".php":
                ext += "?id=%d" % rng.randrange(1000000)
            key = scheme + h + "/" + path + "/" + leaf + ext + ";"
            # The trailing ";" ends every key, so no key is a prefix of
            # another one (a key would have to contain ";" in the middle).
            if key not in seen:
                seen.add(key)
                out.append(key)
                if len(out) == n:
                    break
    return out


def gen_hex(n, seed=20240502):
    """n distinct random 16-byte values as 32 lowercase hex digits."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        k = "%032x" % rng.getrandbits(128)
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


def gen_ids(n, seed=None):
    """'user:%09d' for 0..n-1, in sequential order."""
    return ["user:%09d" % i for i in range(n)]


def find_wordlist():
    for p in WORDLISTS:
        if os.path.exists(p):
            return p
    return None


def install_wordlist(log=sys.stderr):
    """Tries `apt-get install -y wamerican-huge` (root only)."""
    if os.geteuid() != 0:
        print("words: not root, cannot apt-get install wamerican-huge", file=log)
        return False
    for cmd in (
        ["apt-get", "install", "-y", "-qq", "wamerican-huge"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "wamerican-huge"],
    ):
        print("words: running", " ".join(cmd), file=log)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and cmd[1] == "install" and find_wordlist():
            return True
    return find_wordlist() is not None


def gen_words_synthetic(n=350000, seed=20240503):
    """Stand-in for the word list: pronounceable words with English-like
    inflections (so many keys are prefixes of others, as in a real list)."""
    rng = random.Random(seed)
    stems = set()
    while len(stems) < n // 3:
        stems.add(_syllables(rng, 1, 4))
    stems = sorted(stems)
    suffixes = ["", "s", "ed", "ing", "er", "ers", "ly", "ness", "'s"]
    out, seen = [], set()
    i = 0
    while len(out) < n:
        w = stems[i % len(stems)] + suffixes[(i // len(stems) * 3 + i) % len(suffixes)]
        i += 1
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def gen_words(n=None, seed=20240504):
    """The system's huge English word list (shuffled with a fixed seed so the
    map is built in random order), or a synthetic stand-in."""
    path = find_wordlist()
    if path:
        with open(path, encoding="utf-8") as f:
            words = sorted({w for w in f.read().split("\n") if w})
        source = path
    else:
        words = gen_words_synthetic()
        source = "synthetic"
    random.Random(seed).shuffle(words)
    if n is not None:
        words = words[:n]
    return words, source


GENERATORS = {"urls": gen_urls, "hex": gen_hex, "ids": gen_ids}

# ---------------------------------------------------------------------------
# Query sets
# ---------------------------------------------------------------------------


def _succ(p):
    """The smallest string greater than every string starting with p
    (p's last character incremented; every key here is BMP text)."""
    return p[:-1] + chr(ord(p[-1]) + 1)


def _prefix_count(sk, p):
    return bisect.bisect_left(sk, _succ(p)) - bisect.bisect_left(sk, p)


def make_misses(keys, keyset, count, rng):
    """Keys absent from the set: a stored key with one character changed,
    inserted or removed at a random position (so a miss usually shares a
    long prefix with stored keys and fails deep in the tree)."""
    out = []
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-/."
    tries = 0
    while len(out) < count and tries < count * 20:
        tries += 1
        k = rng.choice(keys)
        i = rng.randrange(len(k) + 1)
        op = rng.random()
        if op < 0.5 and i < len(k):
            m = k[:i] + rng.choice(alphabet) + k[i + 1 :]
        elif op < 0.8:
            m = k[:i] + rng.choice(alphabet) + k[i:]
        else:
            m = k[:i] + k[i + 1 :]
        if m and m not in keyset:
            out.append(m)
    return out


def make_prefixes(sk, count, rng, target=100):
    """Prefixes of stored keys matching about `target` keys each: for a
    random key, the prefix length whose match count is closest to target."""
    out = []
    n = len(sk)
    tries = 0
    while len(out) < count and tries < count * 5:
        tries += 1
        k = sk[rng.randrange(n)]
        # The match count falls as the prefix grows: binary search on length.
        lo, hi = 1, len(k)
        while lo < hi:
            mid = (lo + hi) // 2
            if _prefix_count(sk, k[:mid]) > target:
                lo = mid + 1
            else:
                hi = mid
        best = min(
            (L for L in (lo - 1, lo) if 1 <= L <= len(k)),
            key=lambda L: abs(_prefix_count(sk, k[:L]) - target),
        )
        out.append(k[:best])
    return out


def make_ranges(sk, count, rng, width=100):
    """Half-open [start, stop) bounds covering `width` stored keys each;
    starts are stored keys, stops the key `width` positions later."""
    n = len(sk)
    out = []
    if n <= width:
        return [[sk[0], sk[-1]]] if n else []
    for _ in range(count):
        i = rng.randrange(n - width)
        out.append([sk[i], sk[i + width]])
    return out


def make_fuzzy_queries(words, count, rng):
    """Realistic typo queries: a third exact words, a third with one random
    edit, a third with two, all lowercase ASCII edits of stored words."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = []
    pool = [w for w in words if 4 <= len(w) <= 12]
    for j in range(count):
        w = rng.choice(pool)
        for _ in range(j % 3):
            i = rng.randrange(len(w))
            op = rng.randrange(3)
            if op == 0:
                w = w[:i] + rng.choice(letters) + w[i + 1 :]
            elif op == 1:
                w = w[:i] + rng.choice(letters) + w[i:]
            else:
                w = w[:i] + w[i + 1 :]
        out.append(w)
    return out


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------


def cache_paths(cache_dir, workload, n):
    base = os.path.join(cache_dir, "v%d-%s-%d" % (FORMAT_VERSION, workload, n))
    return base + ".keys", base + ".json"


def prepare(cache_dir, workload, n, quick=False, log=sys.stderr):
    """Writes (once) the keys and queries of a workload and size; returns
    (keys_path, queries_path, actual_n).  For `words` n is ignored when
    larger than the list (the whole list is used)."""
    os.makedirs(cache_dir, exist_ok=True)
    if workload == "words":
        words, source = gen_words()
        if n is None or n > len(words):
            n = len(words)
        keys = words[:n]
    else:
        source = "generated"
        keys = None
    kpath, qpath = cache_paths(cache_dir, workload, n)
    if os.path.exists(kpath) and os.path.exists(qpath):
        return kpath, qpath, n
    print("prepare: generating %s n=%d" % (workload, n), file=log, flush=True)
    if keys is None:
        keys = GENERATORS[workload](n)
    rng = random.Random(1000003 * n + WORKLOADS.index(workload))
    keyset = set(keys)
    sk = sorted(keys)
    q = {
        "workload": workload,
        "n": n,
        "source": source,
        "mean_key_len": sum(map(len, keys)) / max(1, n),
        "misses": make_misses(keys, keyset, min(n, 200000), rng),
        "prefixes": make_prefixes(sk, 300, rng),
        "ranges": make_ranges(sk, 300, rng),
    }
    q["prefix_mean_results"] = sum(_prefix_count(sk, p) for p in q["prefixes"]) / max(
        1, len(q["prefixes"])
    )
    if workload == "words":
        q["fuzzy"] = make_fuzzy_queries(keys, 300, rng)
    with open(kpath + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(keys))
    with open(qpath + ".tmp", "w", encoding="utf-8") as f:
        json.dump(q, f)
    os.replace(kpath + ".tmp", kpath)
    os.replace(qpath + ".tmp", qpath)
    return kpath, qpath, n


def load_keys(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def iter_keys(path):
    """Yields the keys of a keys file one at a time, each a new str object
    (for memory measurements: no list of all keys ever exists)."""
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            yield line[:-1] if line.endswith("\n") else line
