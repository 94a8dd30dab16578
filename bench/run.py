#!/usr/bin/env python3
"""blart benchmark suite: blart.TreeMap against dict and its peers.

    python3 bench/run.py --quick            # about a minute
    python3 bench/run.py                    # full run (about 20-25 minutes)
    python3 bench/run.py --only urls --sizes 200000,1000000

Runs every implementation in a process of its own (bench/worker.py), one
process for the timings and a fresh one for the memory, under the bench
virtual environment (bench/.venv-bench; blart-py under
bench/.venv-peers-blartpy because it also imports as `blart`).  The
environments are created and filled on first use, and this project's blart
is (re)installed there from a snapshot of the repository whenever its
sources changed.  Prints a table of ratios to dict, the persistence rows
(TreeMap.save/load and FrozenTreeMap against pickle, and the memory of a
second process sharing a saved file), the scan and suggest rows of full
runs (bench/scan.py: TreeMap.finditer against Aho-Corasick and flashtext;
bench/suggest.py: fuzzy_search and closest against symspellpy), the
targets that hold or miss, and writes bench/results/<date>.json and a PNG
chart beside it.
See bench/README.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads  # noqa: E402

REPO = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv-bench")
VENV_BLARTPY = os.path.join(HERE, ".venv-peers-blartpy")
CACHE = os.path.join(HERE, ".cache")
RESULTS = os.path.join(HERE, "results")

PEER_PACKAGES = [
    "sortedcontainers",
    "marisa-trie",
    "pygtrie",
    "BTrees",
    "rapidfuzz",
    "matplotlib",
    "setuptools>=77",  # pyproject.toml's PEP 639 licence metadata
    "wheel",
]
OPTIONAL_PACKAGES = ["datrie", "symspellpy"]  # may fail to build: the run goes on without them
# the scan benchmark's peers (bench/scan.py), optional too: import name -> pip name
SCAN_PACKAGES = {
    "ahocorasick": "pyahocorasick",
    "ahocorasick_rs": "ahocorasick-rs",
    "flashtext": "flashtext",
}
# the suggest benchmark's peer (bench/suggest.py), also in OPTIONAL_PACKAGES:
# added to a venv where it is missing
SUGGEST_PACKAGES = {"symspellpy": "symspellpy"}

MAP_IMPLS = [
    "dict",
    "blart",
    "blart-py",
    "SortedDict",
    "OOBTree",
    "marisa-trie",
    "datrie",
    "pygtrie",
]
FUZZY_IMPLS = ["rapidfuzz", "symspellpy"]
SLOW_IMPLS = {"pygtrie", "datrie"}  # builds 50-150x slower than dict: capped by --slow-cap

OPS = [
    "build",
    "lookup_hit",
    "lookup_fresh",
    "lookup_miss",
    "items",
    "delete_half",
    "prefix",
    "range",
]
OP_LABELS = {
    "build": "insert",
    "lookup_hit": "hit",
    "lookup_fresh": "fresh",
    "lookup_miss": "miss",
    "items": "items",
    "delete_half": "del",
    "prefix": "prefix",
    "range": "range",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def vpy(venv):
    return os.path.join(venv, "bin", "python")


# ---------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------


def pip(venv, *args, check=True):
    cmd = [vpy(venv), "-m", "pip", "--disable-pip-version-check", "-q", *args]
    log("setup:", " ".join(cmd[2:]))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        log(r.stdout[-3000:])
        if check:
            raise SystemExit("setup failed: " + " ".join(cmd))
    return r.returncode == 0


def make_venv(venv, base_python):
    if not os.path.exists(vpy(venv)):
        log("setup: creating", venv)
        subprocess.run([base_python, "-m", "venv", venv], check=True)
        pip(venv, "install", "--upgrade", "pip")
        return True
    return False


def source_files():
    out = []
    for top in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in"):
        if os.path.exists(os.path.join(REPO, top)):
            out.append(top)
    for d in ("core", os.path.join("src", "blart")):
        for name in sorted(os.listdir(os.path.join(REPO, d))):
            p = os.path.join(d, name)
            if os.path.isfile(os.path.join(REPO, p)) and name.endswith(
                (".c", ".h", ".py", ".pyi", ".typed")
            ):
                out.append(p)
    return out


def source_hash():
    h = hashlib.sha256()
    for p in source_files():
        h.update(p.encode() + b"\0")
        with open(os.path.join(REPO, p), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def install_blart(force=False):
    """pip-installs this repository's blart into the bench venv from a copy
    of its sources (so no build files land outside bench/), when they
    changed since the last install."""
    stamp = os.path.join(VENV, ".blart-src-hash")
    digest = source_hash()
    if not force and os.path.exists(stamp) and open(stamp).read().strip() == digest:
        return digest
    snap = os.path.join(HERE, ".build", "blart-src")
    shutil.rmtree(snap, ignore_errors=True)
    for p in source_files():
        os.makedirs(os.path.dirname(os.path.join(snap, p)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, p), os.path.join(snap, p))
    if not os.path.exists(os.path.join(snap, "README.md")):
        open(os.path.join(snap, "README.md"), "w").close()
    pip(VENV, "install", "--no-build-isolation", "--no-deps", "--force-reinstall", snap)
    with open(stamp, "w") as f:
        f.write(digest)
    return digest


def setup_bench_venv(base, setup=False, reinstall=False):
    """The bench venv with the peers and this repository's blart; the scan
    and suggest peers are added to a venv made before they were on the list
    (or where they failed to install)."""
    extra = {**SCAN_PACKAGES, **SUGGEST_PACKAGES}
    if make_venv(VENV, base) or setup:
        pip(VENV, "install", *PEER_PACKAGES)
        for p in dict.fromkeys(OPTIONAL_PACKAGES + list(extra.values())):
            pip(VENV, "install", p, check=False)
    else:
        for mod, p in extra.items():
            if subprocess.run([vpy(VENV), "-c", "import " + mod], capture_output=True).returncode:
                pip(VENV, "install", p, check=False)
    return install_blart(force=reinstall)


def setup_envs(args):
    digest = setup_bench_venv(args.base_python, args.setup, args.reinstall)
    if make_venv(VENV_BLARTPY, args.base_python) or args.setup:
        pip(VENV_BLARTPY, "install", "blart-py", check=False)
    return digest


def impl_python(impl):
    return vpy(VENV_BLARTPY) if impl == "blart-py" else vpy(VENV)


def impl_available(impl):
    code = {
        "dict": "pass",
        "blart": "import blart; blart.BytesTreeMap",
        "blart-py": "import blart; assert not hasattr(blart, 'BytesTreeMap')",
        "SortedDict": "import sortedcontainers",
        "OOBTree": "import BTrees.OOBTree",
        "marisa-trie": "import marisa_trie",
        "datrie": "import datrie",
        "pygtrie": "import pygtrie",
        "rapidfuzz": "import rapidfuzz",
        "symspellpy": "import symspellpy",
    }[impl]
    py = impl_python(impl)
    if not os.path.exists(py):
        return False
    return (
        subprocess.run(
            [py, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    )


# ---------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------


def machine_info(versions, src_digest):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split()[1] + " kB"
    except OSError:
        pass

    def git(*a):
        r = subprocess.run(
            ["git", "-C", REPO, *a], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        return r.stdout.strip() if r.returncode == 0 else None

    py = subprocess.run(
        [vpy(VENV), "-c", "import sys; print(sys.version)"], stdout=subprocess.PIPE, text=True
    ).stdout.strip()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "python": py,
        "versions": versions,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_sources": bool(git("status", "--porcelain", "--", "core", "src")),
        "blart_source_hash": src_digest,
    }


# ---------------------------------------------------------------------------
# Running workers
# ---------------------------------------------------------------------------


def run_worker(impl, kpath, qpath, mode, ops, args):
    cmd = [
        impl_python(impl),
        os.path.join(HERE, "worker.py"),
        "--impl",
        impl,
        "--keys",
        kpath,
        "--queries",
        qpath,
        "--mode",
        mode,
        "--ops",
        ",".join(ops),
        "--budget",
        str(args.budget),
        "--max-reps",
        str(args.max_reps),
    ] + (["--wall"] if args.wall else [])
    t0 = time.time()
    try:
        r = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=None, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        log("    %s %s: timed out after %ds" % (impl, mode, args.timeout))
        return {"error": "timeout %ds" % args.timeout}
    if r.returncode != 0:
        log("    %s %s: failed (exit %d)" % (impl, mode, r.returncode))
        return {"error": "exit %d" % r.returncode}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.time() - t0
    return out


def merge_rounds(old, new):
    """Keeps, per operation, the fastest of the rounds run so far (rounds
    are separate worker processes spread over the run, so one unlucky
    stretch of a busy machine does not decide a ratio)."""
    if not old or "results" not in old:
        return new
    if "results" not in new:
        return old
    for op, r in new["results"].items():
        o = old["results"].get(op)
        if o is None or "ns_per_op" not in o:
            old["results"][op] = r
        elif "ns_per_op" in r:
            rounds = o.get("rounds", [o["ns_per_op"]]) + [r["ns_per_op"]]
            if op.startswith("fuzzy"):
                better = r.get("median_ms", 1e99) < o.get("median_ms", 1e99)
            else:
                better = r["ns_per_op"] < o["ns_per_op"]
            if better:
                old["results"][op] = r
            old["results"][op]["rounds"] = rounds
    return old


def plan(args):
    if args.quick:
        sizes = [int(s) for s in (args.sizes or "100000").split(",")]
        wl = args.only or ["urls", "words"]
    else:
        sizes = [int(s) for s in (args.sizes or "10000,100000,1000000").split(",")]
        wl = args.only or ["urls", "hex", "ids", "words"]
    out = []
    for w in wl:
        if w == "words":
            out.append((w, None))
        elif w == "urls" and not args.quick and not args.sizes:
            # 200k too: the size at which the issue quotes the peers
            out.extend((w, n) for n in sorted(set(sizes) | {200000}))
        else:
            out.extend((w, n) for n in sizes)
    return out


def impls_for(workload, n, args, available):
    names = []
    for impl in args.impls or MAP_IMPLS + FUZZY_IMPLS:
        if impl not in available:
            continue
        if impl in FUZZY_IMPLS and workload != "words":
            continue
        if impl in SLOW_IMPLS and args.slow_cap and n > args.slow_cap:
            continue
        if args.quick and not args.impls:
            # about a minute: the slow builders sit out, and on words only
            # the fuzzy search is compared
            if impl in ("symspellpy", "datrie", "pygtrie"):
                continue
            if workload == "words" and impl not in ("dict", "blart", "rapidfuzz"):
                continue
        names.append(impl)
    if "dict" not in names and "dict" in available:
        names.insert(0, "dict")  # every ratio needs it
    return names


def ops_for(workload, impl, args):
    if impl in FUZZY_IMPLS:
        return ["build", "fuzzy1", "fuzzy2"]
    ops = list(OPS)
    if workload == "words":
        ops = ["build", "fuzzy1", "fuzzy2"] if args.quick else ops + ["fuzzy1", "fuzzy2"]
    if args.ops:
        ops = [o for o in ops if o in args.ops or (o.startswith("fuzzy") and "fuzzy" in args.ops)]
    return ops


# ---------------------------------------------------------------------------
# Persistence: TreeMap.save / TreeMap.load / FrozenTreeMap (blart only)
# ---------------------------------------------------------------------------


def worker_base(kpath, qpath, mode, args):
    return [
        vpy(VENV),
        os.path.join(HERE, "worker.py"),
        "--impl",
        "blart",
        "--keys",
        kpath,
        "--queries",
        qpath,
        "--mode",
        mode,
    ] + (["--wall"] if args.wall else [])


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def measure_shared_memory(kpath, qpath, path, n, args):
    """Process A opens the file as a FrozenTreeMap, looks up random keys and
    stays (holding the mapping); process B then does the same with other
    random keys and reports its own growth; a third process TreeMap.load()s
    the file instead (a private copy), for reference."""
    base = worker_base(kpath, qpath, "touch", args) + [
        "--file",
        path,
        "--lookups",
        str(min(n, args.persist_lookups)),
    ]
    out = {}
    a = subprocess.Popen(
        base + ["--seed", "1", "--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        line = a.stdout.readline()
        if not line:
            return {"error": "first process exited %s" % a.wait()}
        out["first"] = json.loads(line)
        r = subprocess.run(
            base + ["--seed", "2"], stdout=subprocess.PIPE, text=True, timeout=args.timeout
        )
        if r.returncode != 0:
            return {"error": "second process exited %d" % r.returncode}
        out["second"] = last_json(r.stdout)
    finally:
        a.stdin.close()
        a.wait(timeout=args.timeout)
    r = subprocess.run(
        base + ["--seed", "2", "--how", "load"],
        stdout=subprocess.PIPE,
        text=True,
        timeout=args.timeout,
    )
    if r.returncode == 0:
        out["loaded"] = last_json(r.stdout)
    return out


def measure_persist(kpath, qpath, n, args):
    build = os.path.join(HERE, ".build")
    os.makedirs(build, exist_ok=True)
    work = tempfile.mkdtemp(prefix="persist-", dir=build)
    try:
        cmd = worker_base(kpath, qpath, "persist", args) + [
            "--dir",
            work,
            "--max-reps",
            str(args.max_reps),
        ]
        t0 = time.time()
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": "timeout %ds" % args.timeout}
        if r.returncode != 0:
            log("    persist: failed (exit %d)" % r.returncode)
            return {"error": "exit %d" % r.returncode}
        res = last_json(r.stdout)
        out = res["persist"]
        out["version"] = res.get("version")
        out["wall_s"] = time.time() - t0
        if not args.no_memory:
            try:
                out["shared_memory"] = measure_shared_memory(kpath, qpath, out["path"], n, args)
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                out["shared_memory"] = {"error": repr(exc)}
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def persist_plan(steps):
    """The largest size planned of each workload: (workload, n, keys, queries)."""
    best = {}
    for w, n, kpath, qpath, _ in steps:
        if w not in best or n > best[w][1]:
            best[w] = (w, n, kpath, qpath)
    return list(best.values())


def shared_fracs(p, who="second"):
    """Growth of a shared-memory process as fractions of the file size."""
    sm = p.get("shared_memory", {}).get(who)
    if not sm:
        return None
    size = sm["file_bytes"]
    g = sm["growth"]
    return {
        "rss": g["Rss"] / size,
        "private": g["Private"] / size,
        "pss": g["Pss"] / size,
        "mapping_rss": sm["mapping"].get("Rss", 0) / size,
        "mapping_private": private_of(sm["mapping"]) / size,
    }


def private_of(sm):
    return sm.get("Private_Clean", 0) + sm.get("Private_Dirty", 0)


def persist_table(entries):
    rows = [e for e in entries if e.get("persist") and "times" in e["persist"]]
    if not rows:
        errs = [
            "%s n=%d: %s" % (e["workload"], e["n"], e["persist"]["error"])
            for e in entries
            if e.get("persist", {}).get("error")
        ]
        return "\n".join(["", "persistence: " + "; ".join(errs)]) if errs else ""
    mb = 2.0**20
    lines = [
        "",
        "persistence: m.save(path) / TreeMap.load(path) / FrozenTreeMap(path) against pickle",
        "(protocol 5) of the same TreeMap and of dict(m); values are distinct ints; wall-clock",
        "seconds (load uses two threads), the best of the interleaved repetitions",
        "%-14s %8s %8s %8s  %7s %7s %7s  %8s %8s %8s %8s %7s %7s"
        % (
            "",
            "save s",
            "pkl(TM)",
            "pkl(d)",
            "file MB",
            "pkl MB",
            "pkl(d)",
            "load s",
            "unpk(TM)",
            "unpk(d)",
            "open ms",
            "xTM",
            "xdict",
        ),
    ]
    for e in rows:
        p = e["persist"]
        t, z, r = p["times"], p["sizes"], p["ratios"]
        lines.append(
            "%-14s %8.3f %8.3f %8.3f  %7.1f %7.1f %7.1f  %8.3f %8.3f %8.3f %8.2f %7s %7s"
            % (
                "%s %dk" % (e["workload"], e["n"] // 1000),
                t["save"]["wall_s"],
                t["pickle_tree"]["wall_s"],
                t["pickle_dict"]["wall_s"],
                z["file"] / mb,
                z["pickle_tree"] / mb,
                z["pickle_dict"] / mb,
                t["load"]["wall_s"],
                t["unpickle_tree"]["wall_s"],
                t["unpickle_dict"]["wall_s"],
                t["open"]["wall_s"] * 1e3,
                fmt(r["load_vs_unpickle_tree"]),
                fmt(r["load_vs_unpickle_dict"]),
            )
        )
    lines.append("  (xTM, xdict: unpickling time / TreeMap.load time; CPU seconds are in the JSON)")
    lines.append(
        "queries, time / the same query on the TreeMap built by inserts (lower is better):"
    )
    lines.append(
        "%-14s %8s %8s %8s %8s %8s   %8s %8s %8s"
        % ("", "F hit", "F 1st", "F items", "F prefix", "F fuzzy2", "L hit", "L items", "L prefix")
    )
    for e in rows:
        r = e["persist"]["ratios"]
        lines.append(
            "%-14s %8s %8s %8s %8s %8s   %8s %8s %8s"
            % (
                "%s %dk" % (e["workload"], e["n"] // 1000),
                fmt(r.get("hit_frozen_vs_tree")),
                fmt(r.get("hit_frozen_first_vs_tree")),
                fmt(r.get("items_frozen_vs_tree")),
                fmt(r.get("prefix_frozen_vs_tree")),
                fmt(r.get("fuzzy2_frozen_vs_tree")),
                fmt(r.get("hit_loaded_vs_tree")),
                fmt(r.get("items_loaded_vs_tree")),
                fmt(r.get("prefix_loaded_vs_tree")),
            )
        )
    lines.append(
        "  (F = FrozenTreeMap, 1st = its first pass over every key after the open; L = TreeMap.load)"
    )
    mem_rows = [e for e in rows if shared_fracs(e["persist"])]
    if mem_rows:
        lines.append(
            "memory of a second process B that opens the same file as a FrozenTreeMap and looks up"
        )
        lines.append(
            "random keys while process A (which did the same) holds it; growth from before the open"
        )
        lines.append(
            "to after the lookups (/proc/self/smaps_rollup), as a fraction of the file size:"
        )
        lines.append(
            "%-14s %8s %9s %8s %8s %8s   %8s %9s   %9s"
            % ("", "file MB", "lookups", "B rss", "B priv", "B pss", "A rss", "A priv", "load priv")
        )
        for e in mem_rows:
            p = e["persist"]
            b, a = shared_fracs(p), shared_fracs(p, "first")
            ld = p["shared_memory"].get("loaded")
            lp = ld["growth"]["Private"] / ld["file_bytes"] if ld else None
            lines.append(
                "%-14s %8.1f %9d %8.3f %8.3f %8.3f   %8.3f %9.3f   %9s"
                % (
                    "%s %dk" % (e["workload"], e["n"] // 1000),
                    p["sizes"]["file"] / mb,
                    p["shared_memory"]["second"]["lookups"],
                    b["rss"],
                    b["private"],
                    b["pss"],
                    a["rss"] if a else float("nan"),
                    a["private"] if a else float("nan"),
                    fmt(lp, 3),
                )
            )
        lines.append(
            "  (priv = Private_Clean + Private_Dirty; A's pages are private until B maps them;"
        )
        lines.append(
            "   load priv = a process that TreeMap.load()s the file instead: its own copy)"
        )
        warm = [
            e["persist"]["shared_memory"]["second"].get("warm_up_growth", {}).get("Rss")
            for e in mem_rows
        ]
        warm = [w for w in warm if w is not None]
        if warm:
            lines.append(
                "  (each process first opened a one-key file: the first open's imports cost "
                "%.2f MB of RSS once per process, left out above)" % (max(warm) / mb)
            )
    bad = [
        "%s: %s" % (e["workload"], ", ".join(k for k, v in e["persist"]["checks"].items() if not v))
        for e in rows
        if not all(e["persist"]["checks"].values())
    ]
    if bad:
        lines.append("  RESULT CHECKS FAILED: " + "; ".join(bad))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Scan: TreeMap.finditer against Aho-Corasick and flashtext (bench/scan.py)
# ---------------------------------------------------------------------------

SCAN_ROWS = [
    "blart finditer",
    "pyahocorasick iter_long",
    "ahocorasick_rs LeftmostLongest",
    "blart finditer whole_words",
    "flashtext extract_keywords",
    "pyahocorasick make_automaton",
    "ahocorasick_rs constructor",
    "blart set / del",
    "pyahocorasick add/remove + make",
]


def run_script(args, name):
    """bench/NAME.py once in the bench venv (its table goes to stderr);
    the figures of its JSON, or {"error": ...}."""
    build = os.path.join(HERE, ".build")
    os.makedirs(build, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=name + "-", suffix=".json", dir=build)
    os.close(fd)
    try:
        cmd = [vpy(VENV), os.path.join(HERE, name + ".py"), "--json", path]
        try:
            r = subprocess.run(cmd, stdout=sys.stderr, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": "timeout %ds" % args.timeout}
        if r.returncode != 0:
            log("    %s: failed (exit %d)" % (name, r.returncode))
            return {"error": "exit %d" % r.returncode}
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def seconds(t):
    if t >= 0.1:
        return "%.3f s" % t
    return "%.3f ms" % (t * 1e3) if t >= 1e-4 else "%.3f us" % (t * 1e6)


def scan_table(scan):
    if not scan:
        return ""
    if "error" in scan:
        return "\nscan: " + scan["error"]
    p = scan["params"]
    lines = [
        "",
        "scan: %d terms (%d words, %d two-word phrases) found in %d chars of words, CPU seconds"
        % (p["terms"], p["words"], p["phrases"], p["chars"]),
        "(bench/scan.py; last column: blart's time / this row's, where blart's is finditer's,",
        "finditer whole_words' or set / del's; each change is a key added or removed)",
    ]
    for name in SCAN_ROWS:
        r = scan["rows"].get(name)
        if not r:
            continue
        if "seconds" not in r:
            lines.append("  %-32s %s" % (name, r.get("error")))
            continue
        lines.append(
            "  %-32s %12s %9s %8s"
            % (
                name,
                seconds(r["seconds"]),
                r.get("matches", ""),
                "%.3g" % r["blart_over_this"] if "blart_over_this" in r else "",
            )
        )
    lines.extend("  " + n for n in scan["notes"] if n.startswith(("WARNING", "  (pyaho")))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Suggest: TreeMap.fuzzy_search and closest against symspellpy (bench/suggest.py)
# ---------------------------------------------------------------------------

SUGGEST_ROWS = [
    "blart fuzzy_search(q, 2)",
    "blart fuzzy_search(q, 2, transp.)",
    "blart fuzzy_search(p, 1, prefix)",
    "blart closest(q, 5)",
    "blart closest(q, 5, transp.)",
    "blart closest(q, 5, max_distance=2)",
    "floor: fuzzy_search(q, D - 1)",
    "symspellpy lookup CLOSEST",
]


def suggest_table(sug):
    if not sug:
        return ""
    if "error" in sug:
        return "\nsuggest: " + sug["error"]
    p = sug["params"]
    lines = [
        "",
        "suggest: %d words; %d misspelt queries (1 or 2 edits), %d prefixes of %d chars; CPU time"
        % (p["wordlist_size"], p["queries"], p["prefixes"], p["prefix_len"]),
        "(bench/suggest.py; median per query, each query's best of %d rounds; the best round's "
        "total; results: median count)" % p["repeat"],
    ]
    for name in SUGGEST_ROWS:
        r = sug["rows"].get(name)
        if not r:
            continue
        if "median_s" not in r:
            lines.append("  %-42s %s" % (name, r.get("error")))
            continue
        lines.append(
            "  %-42s %12s %12s %8g"
            % (name, seconds(r["median_s"]), seconds(r["total_s"]), r["median_results"])
        )
    for name, r in sug["builds"].items():
        lines.append(
            "  %-42s %12s"
            % ("build: " + name, seconds(r["seconds"]) if "seconds" in r else r["error"])
        )
    for name, r in sug["memory"].items():
        lines.append(
            "  %-42s %12s"
            % (
                "memory: " + name,
                "%.1f MB" % (r["rss_growth"] / 2**20) if "rss_growth" in r else r["error"],
            )
        )
    for name, r in sug["quality"].items():
        lines.append(
            "  %-42s %11.1f%%  of %d (the unedited word among the results)"
            % ("found: " + name, 100 * r["rate"], r["queries"])
        )
    for t in sug["targets"]:
        lines.append(
            "  %-4s %-52s %.3g %s"
            % ("ok" if t["ok"] else "MISS", t["target"], t["value"], t["detail"])
        )
    lines.extend("  " + n for n in sug["notes"] if n.startswith(("WARNING", "checks:")))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Ratios, targets, table
# ---------------------------------------------------------------------------


def ns(entry, impl, op):
    r = entry["impls"].get(impl, {}).get("time", {}).get("results", {}).get(op)
    if not r or "ns_per_op" not in r:
        return None
    return r["ns_per_op"]


def mem(entry, impl):
    m = entry["impls"].get(impl, {}).get("memory", {}).get("memory")
    return m["rss_growth"] if m else None


def fuzzy_median(entry, impl, d):
    r = entry["impls"].get(impl, {}).get("time", {}).get("results", {}).get("fuzzy%d" % d)
    return r["median_ms"] if r and "median_ms" in r else None


def compute_ratios(entry):
    """ratio[impl][op] = impl time / dict time (prefix and range: / the
    pairs made between two bisect calls on the sorted keys); memory likewise."""
    out = {}
    for impl in entry["impls"]:
        row = {}
        for op in OPS:
            a, b = ns(entry, impl, op), ns(entry, "dict", op)
            if a is not None and b:
                row[op] = a / b
        a, b = mem(entry, impl), mem(entry, "dict")
        if a is not None and b:
            row["memory"] = a / b
        s = ns(entry, "dict", "sorted_items")
        a = ns(entry, impl, "items")
        if a and s:
            row["items_vs_sorted_speedup"] = s / a
        for d in (1, 2):
            a, b = fuzzy_median(entry, impl, d), fuzzy_median(entry, "rapidfuzz", d)
            if a and b:
                row["fuzzy%d_speedup_vs_rapidfuzz" % d] = b / a
        out[impl] = row
    return out


def find_entry(entries, workload, n=None):
    cands = [e for e in entries if e["workload"] == workload and (n is None or e["n"] == n)]
    if not cands:
        return None
    return max(cands, key=lambda e: e["n"])


# Figures of the plain ART before bucket nodes (2026-11-25, commit d0264dd,
# this machine kind) that issue #17's targets are relative to.
BEFORE_BUCKETS = {"fuzzy1_ms": 0.045, "fuzzy2_ms": 0.595, "open_ms": 26.0}


def check_targets(entries):
    """Issue #17's targets (the leaf-bucket issue; it superseded the first
    performance issue's), evaluated on this run's numbers."""
    out = []

    def add(name, value, ok, detail=""):
        out.append({"target": name, "value": value, "ok": ok, "detail": detail})

    persisted = [e for e in entries if e.get("persist") and "ratios" in e["persist"]]
    entries = [e for e in entries if e["impls"]]  # --persist-only runs no map worker
    u = find_entry(entries, "urls", 1000000) or find_entry(entries, "urls")
    if u:
        r = u["ratios"].get("blart", {})
        where = "urls n=%d" % u["n"]
        for op, lim in (
            ("lookup_hit", 1.5),
            ("build", 1.8),
            ("delete_half", 2.0),
            ("lookup_miss", 1.2),
            ("lookup_fresh", 0.8),
            ("items", 3.0),
            ("memory", 0.35),
        ):
            v = r.get(op)
            add("%s %s <= %.2gx dict" % (where, op, lim), v, v is not None and v <= lim)
        v = r.get("items_vs_sorted_speedup")
        add("%s items >= 15x faster than sorted(d.items())" % where, v, v is not None and v >= 15)
        for op in ("lookup_hit", "build", "items"):
            b, p = ns(u, "blart", op), ns(u, "blart-py", op)
            if b and p:
                add("%s %s >= 2x faster than blart-py" % (where, op), p / b, p / b >= 2)
        b, p = mem(u, "blart"), mem(u, "blart-py")
        if b and p:
            add("%s memory below blart-py's" % where, b / p, b < p)
        v = r.get("prefix")
        add(
            "%s prefix_iter <= 1.0x bisect + making the pairs" % where,
            v,
            v is not None and v <= 1.0,
        )
    # Faster than SortedDict on lookup hits in every workload (its largest n).
    for name in ("urls", "hex", "ids", "words"):
        e = find_entry(entries, name)
        b, sd = (ns(e, "blart", "lookup_hit"), ns(e, "SortedDict", "lookup_hit")) if e else (0, 0)
        if b and sd:
            add(
                "%s n=%d lookup_hit faster than SortedDict" % (name, e["n"]),
                sd / b,
                b < sd,
                "SortedDict %.0f ns vs blart %.0f ns" % (sd, b),
            )
    h = find_entry(entries, "hex", 1000000) or find_entry(entries, "hex")
    if h:
        v = h["ratios"].get("blart", {}).get("memory")
        add("hex n=%d memory <= 0.45x dict" % h["n"], v, v is not None and v <= 0.45)
    w = find_entry(entries, "words")
    if w:
        for d in (1, 2):
            lim = 1.1 * BEFORE_BUCKETS["fuzzy%d_ms" % d]
            v = fuzzy_median(w, "blart", d)
            add(
                "words fuzzy d=%d median <= 1.1x before buckets (%.3g ms)" % (d, lim),
                v,
                v is not None and v <= lim,
            )
            s = w["ratios"].get("blart", {}).get("fuzzy%d_speedup_vs_rapidfuzz" % d)
            add("words fuzzy d=%d > 20x faster than rapidfuzz" % d, s, s is not None and s > 20)
    p = find_entry(persisted, "urls", 1000000) or find_entry(persisted, "urls")
    if p:
        where = "urls n=%d" % p["n"]
        t = p["persist"]["times"]
        v = p["persist"]["ratios"]["load_vs_unpickle_tree"]
        add(
            "%s TreeMap.load >= 5x faster than unpickling it" % where,
            v,
            v >= 5,
            "load %.3f s, pickle.load %.3f s" % (t["load"]["wall_s"], t["unpickle_tree"]["wall_s"]),
        )
        if p["n"] == 1000000:
            v = t["open"]["wall_s"] * 1e3
            lim = BEFORE_BUCKETS["open_ms"]
            add(
                "%s FrozenTreeMap open <= before buckets (%.0f ms)" % (where, lim),
                v,
                v <= lim,
            )
        f = shared_fracs(p["persist"])
        if f:
            add(
                "%s 2nd FrozenTreeMap process: private memory <= 0.1x file" % where,
                f["private"],
                f["private"] <= 0.1,
                "rss %.3f, pss %.3f of the file" % (f["rss"], f["pss"]),
            )
    return out


def fmt(v, digits=2):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.*f" % (digits, v)


def explain_memory(e):
    """Where blart's and dict's bytes go, from sys.getsizeof and m.stats()
    (when the map has them) against the RSS growth."""
    out = []
    n = e["n"]
    lo = e["impls"].get("dict", {}).get("time", {}).get("info", {}).get("loop_overhead_ns")
    if lo:
        out.append(
            "  (an empty `for k in keys` loop costs %.1f ns/key here; it is inside every ratio)"
            % lo
        )
    d = e["impls"].get("dict", {}).get("memory", {}).get("memory")
    if d and "getsizeof_table" in d:
        out.append(
            "  dict memory: RSS %.1f B/key = table %.1f + key objects %.1f (getsizeof) + allocator slack"
            % (d["rss_growth"] / n, d["getsizeof_table"] / n, d["getsizeof_keys"] / n)
        )
    b = e["impls"].get("blart", {}).get("memory", {}).get("memory")
    if b:
        line = "  blart memory: RSS %.1f B/key" % (b["rss_growth"] / n)
        if "getsizeof" in b:
            line += "; getsizeof %.1f B/key (allocator overhead %.1f B/key)" % (
                b["getsizeof"] / n,
                (b["rss_growth"] - b["getsizeof"]) / n,
            )
        st = b.get("stats")
        if st:
            line += "; nodes 4/16/48/256 = %s/%s/%s/%s, leaves %s, depth mean %.2f max %s" % (
                st.get("node4"),
                st.get("node16"),
                st.get("node48"),
                st.get("node256"),
                st.get("leaves"),
                st.get("mean_depth", 0),
                st.get("max_depth"),
            )
        out.append(line)
    return out


def table(entries):
    lines = []
    cols = OPS + ["memory"]
    for e in entries:
        if not e["impls"]:
            continue
        lines.append("")
        lines.append(
            "%s  n=%d  (mean key %.1f chars; prefix queries ~%.0f results)"
            % (e["workload"], e["n"], e["mean_key_len"], e["prefix_mean_results"])
        )
        head = (
            "%-12s" % "" + "".join("%9s" % OP_LABELS.get(c, c) for c in cols) + "%9s" % "vsSorted"
        )
        lines.append(head)
        d = e["impls"].get("dict", {})
        absrow = "%-12s" % "dict ns/op"
        for c in OPS:
            absrow += "%9s" % fmt(ns(e, "dict", c), 0)
        m = mem(e, "dict")
        absrow += "%9s" % ("%.0fMB" % (m / 2**20) if m else "-")
        s = ns(e, "dict", "sorted_items")
        absrow += "%9s" % fmt(s, 0)
        lines.append(absrow)
        for impl in e["impls"]:
            if impl in FUZZY_IMPLS:
                continue
            r = e["ratios"].get(impl, {})
            row = "%-12s" % impl
            for c in cols:
                row += "%9s" % fmt(r.get(c))
            row += "%9s" % fmt(r.get("items_vs_sorted_speedup"))
            err = d and e["impls"][impl].get("time", {}).get("error")
            if err:
                row += "  (" + err + ")"
            info = e["impls"][impl].get("time", {}).get("info", {})
            if info.get("n_stored") is not None and info["n_stored"] != e["n"]:
                row += "  [stores %d of %d keys]" % (info["n_stored"], e["n"])
            lines.append(row)
        lines.extend(explain_memory(e))
        if e["workload"] == "words":
            lines.append(
                "fuzzy (median ms/query over the same typo queries; speedup = rapidfuzz median / this):"
            )
            for impl in e["impls"]:
                f1, f2 = fuzzy_median(e, impl, 1), fuzzy_median(e, impl, 2)
                if f1 is None and f2 is None:
                    continue
                r = e["ratios"].get(impl, {})
                t = e["impls"][impl].get("time", {})
                res = t.get("results", {})
                note = ""
                if "build" in res and impl in FUZZY_IMPLS:
                    note += "  index built in %.1f s" % (res["build"]["ns_per_op"] * e["n"] / 1e9)
                stored = t.get("info", {}).get("n_stored")
                if stored is not None and stored != e["n"]:
                    note += "  [searches %d of %d keys: not comparable]" % (stored, e["n"])
                c = res.get("fuzzy1", {}).get("counts"), res.get("fuzzy2", {}).get("counts")
                ref = [
                    e["impls"]
                    .get("rapidfuzz", {})
                    .get("time", {})
                    .get("results", {})
                    .get("fuzzy%d" % d, {})
                    .get("counts")
                    for d in (1, 2)
                ]
                agree = []
                for mine, theirs in zip(c, ref):
                    if mine and theirs:
                        k = min(len(mine), len(theirs))
                        agree.append(
                            "%d/%d" % (sum(a == b for a, b in zip(mine[:k], theirs[:k])), k)
                        )
                if agree and impl != "rapidfuzz":
                    note += "  result counts equal rapidfuzz's on %s queries" % " & ".join(agree)
                lines.append(
                    "  %-12s d=1 %8s ms (x%s)   d=2 %8s ms (x%s)%s"
                    % (
                        impl,
                        fmt(f1, 3),
                        fmt(r.get("fuzzy1_speedup_vs_rapidfuzz")),
                        fmt(f2, 3),
                        fmt(r.get("fuzzy2_speedup_vs_rapidfuzz")),
                        note,
                    )
                )
    return "\n".join(lines)


def scaling_table(entries):
    lines = []
    by_w = {}
    for e in entries:
        by_w.setdefault(e["workload"], []).append(e)
    for w, es in by_w.items():
        es = sorted(es, key=lambda e: e["n"])
        if len(es) < 2:
            continue
        lines.append("")
        lines.append(
            "growth of ns/op with n on %s: %s" % (w, "  ".join("n=%d" % e["n"] for e in es))
        )
        for impl in ("dict", "blart"):
            for op in ("build", "lookup_hit", "lookup_fresh", "items"):
                vals = [ns(e, impl, op) for e in es]
                if any(v is None for v in vals):
                    continue
                lines.append(
                    "  %-6s %-13s %s   x%.2f from smallest to largest"
                    % (impl, op, "  ".join("%8.1f" % v for v in vals), vals[-1] / vals[0])
                )
    return "\n".join(lines)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="about a minute: n=100k, fewer repetitions"
    )
    ap.add_argument(
        "--only",
        action="append",
        choices=workloads.WORKLOADS,
        help="workload to run (repeatable); default all",
    )
    ap.add_argument(
        "--sizes",
        help="comma-separated key counts (default 10000,100000,1000000 and 200000 "
        "for urls; quick 100000)",
    )
    ap.add_argument("--impls", help="comma-separated implementations (default all available)")
    ap.add_argument("--ops", help="comma-separated operations (default all)")
    ap.add_argument(
        "--budget", type=float, help="soft seconds per timed operation (default 1.0, quick 0.4)"
    )
    ap.add_argument(
        "--max-reps", type=int, help="repetitions per operation, best kept (default 5, quick 3)"
    )
    ap.add_argument(
        "--slow-cap",
        type=int,
        default=400000,
        help="skip the slowest peers (pygtrie, datrie) above this many keys; 0 = never (default 400000)",
    )
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per worker process")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every timing worker this many times, spread over the run, keeping the best "
        "per operation (default 1)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    ap.add_argument(
        "--wall",
        action="store_true",
        help="time with the wall clock (default: the worker's CPU time, robust to a busy machine)",
    )
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument(
        "--no-persist",
        action="store_true",
        help="skip the persistence rows (save/load/FrozenTreeMap against pickle)",
    )
    ap.add_argument(
        "--persist-only",
        action="store_true",
        help="run only the persistence rows (at the largest size of each workload)",
    )
    ap.add_argument(
        "--no-scan",
        action="store_true",
        help="skip the scan rows (bench/scan.py: finditer against Aho-Corasick; full runs only)",
    )
    ap.add_argument(
        "--no-suggest",
        action="store_true",
        help="skip the suggest rows (bench/suggest.py: fuzzy_search and closest against "
        "symspellpy; full runs only)",
    )
    ap.add_argument(
        "--persist-lookups",
        type=int,
        default=100000,
        help="random lookups of each process of the shared-memory measurement (default 100000)",
    )
    ap.add_argument(
        "--install-words",
        action="store_true",
        help="apt-get install wamerican-huge if no word list (root); also BLART_BENCH_INSTALL_WORDS=1",
    )
    ap.add_argument("--setup", action="store_true", help="(re)install the peers into the venvs")
    ap.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall blart even if its sources did not change",
    )
    ap.add_argument(
        "--base-python", default=sys.executable, help="interpreter the venvs are made from"
    )
    ap.add_argument("--out", help="results JSON path (default bench/results/<date>.json)")
    args = ap.parse_args()
    args.impls = args.impls.split(",") if args.impls else None
    args.ops = args.ops.split(",") if args.ops else None
    if args.budget is None:
        args.budget = 0.4 if args.quick else 1.0
    if args.max_reps is None:
        args.max_reps = 3 if args.quick else 5

    t_start = time.time()
    digest = setup_envs(args)
    todo = plan(args)
    if any(w == "words" for w, _ in todo) and not workloads.find_wordlist():
        if args.install_words or os.environ.get("BLART_BENCH_INSTALL_WORDS") == "1":
            workloads.install_wordlist()
        if not workloads.find_wordlist():
            log(
                "words: no word list in /usr/share/dict; using the synthetic generator "
                "(--install-words or BLART_BENCH_INSTALL_WORDS=1 installs wamerican-huge as root)"
            )

    wanted = args.impls or MAP_IMPLS + FUZZY_IMPLS
    available = [i for i in wanted if impl_available(i)]
    for i in wanted:
        if i not in available:
            log("peer %s: not installed, skipped" % i)
    versions = {}
    entries = []
    steps = []
    for w, n in todo:
        kpath, qpath, real_n = workloads.prepare(CACHE, w, n)
        for impl in impls_for(w, real_n, args, available):
            steps.append((w, real_n, kpath, qpath, impl))
    persists = [] if args.no_persist else persist_plan(steps)
    if args.persist_only:
        steps = []
    log(
        "plan: %d workload/size pairs, %d timing and %d memory worker runs, %d persistence runs"
        % (
            len(todo),
            len(steps) * args.rounds,
            0 if args.no_memory else len(steps),
            len(persists),
        )
    )
    by_key = {}

    def entry(w, n, qpath):
        cur = by_key.get((w, n))
        if cur is None:
            with open(qpath, encoding="utf-8") as f:
                q = json.load(f)
            cur = by_key[(w, n)] = {
                "workload": w,
                "n": n,
                "source": q["source"],
                "mean_key_len": q["mean_key_len"],
                "prefix_mean_results": q["prefix_mean_results"],
                "impls": {},
            }
            entries.append(cur)
        return cur

    total = len(steps) * args.rounds + len(persists)
    done = 0
    for rnd in range(args.rounds):
        for w, n, kpath, qpath, impl in steps:
            cur = entry(w, n, qpath)
            done += 1
            log(
                "[%d/%d %3.0fs] %s n=%d: %s%s"
                % (
                    done,
                    total,
                    time.time() - t_start,
                    w,
                    n,
                    impl,
                    " (round %d)" % (rnd + 1) if args.rounds > 1 else "",
                )
            )
            slot = cur["impls"].setdefault(impl, {})
            t = run_worker(impl, kpath, qpath, "time", ops_for(w, impl, args), args)
            slot["time"] = merge_rounds(slot.get("time"), t)
            if rnd == 0 and not args.no_memory and impl not in FUZZY_IMPLS:
                slot["memory"] = run_worker(impl, kpath, qpath, "memory", [], args)
            v = slot["time"].get("version")
            if v:
                versions[impl] = v
    for w, n, kpath, qpath in persists:
        done += 1
        log("[%d/%d %3.0fs] %s n=%d: persistence" % (done, total, time.time() - t_start, w, n))
        p = entry(w, n, qpath)["persist"] = measure_persist(kpath, qpath, n, args)
        if p.get("version"):
            versions.setdefault("blart", p["version"])
    scan = None
    if not (args.quick or args.persist_only or args.no_scan):
        log("[%d/%d %3.0fs] scan (bench/scan.py)" % (done, total, time.time() - t_start))
        scan = run_script(args, "scan")
    suggest = None
    if not (args.quick or args.persist_only or args.no_suggest):
        log("[%d/%d %3.0fs] suggest (bench/suggest.py)" % (done, total, time.time() - t_start))
        suggest = run_script(args, "suggest")
    for e in entries:
        e["ratios"] = compute_ratios(e)
    targets = check_targets(entries)
    info = machine_info(versions, digest)
    info["mode"] = "quick" if args.quick else "full"
    info["argv"] = sys.argv[1:]
    info["wall_s"] = time.time() - t_start

    print(
        "blart benchmark  %s  %s  (%d cores)  Python %s"
        % (info["date"], info["cpu"], info["cores"], info["python"].split()[0])
    )
    print("versions: " + ", ".join("%s %s" % kv for kv in sorted(versions.items())))
    print(
        "blart at %s%s, sources %s"
        % (
            info["git_commit"],
            " (+uncommitted changes)" if info["git_dirty_sources"] else "",
            digest,
        )
    )
    if any(e["impls"] for e in entries):
        print(
            "Ratios are time (or memory) / dict's in the same run; lower is better. prefix and range are"
        )
        print(
            "divided by the pairs made between two bisect calls on the sorted keys; vsSorted = sorted(d.items()) time / items time."
        )
        print(table(entries))
        print(scaling_table(entries))
    print(persist_table(entries))
    print(scan_table(scan))
    print(suggest_table(suggest))
    print("")
    print("targets:")
    for t in targets:
        print(
            "  %-4s %-60s %s %s"
            % ("ok" if t["ok"] else "MISS", t["target"], fmt(t["value"], 3), t["detail"])
        )
    print("wall time %.0f s" % info["wall_s"])

    os.makedirs(RESULTS, exist_ok=True)
    out = args.out or os.path.join(
        RESULTS,
        datetime.date.today().isoformat()
        + ("-persist" if args.persist_only else "")
        + ("-quick" if args.quick else "")
        + ".json",
    )
    with open(out, "w") as f:
        json.dump(
            {
                "machine": info,
                "entries": entries,
                "targets": targets,
                "scan": scan,
                "suggest": suggest,
            },
            f,
            separators=(",", ":"),
        )
    log("wrote", out)
    if not args.no_chart:
        png = os.path.splitext(out)[0] + ".png"
        r = subprocess.run([vpy(VENV), os.path.join(HERE, "chart.py"), out, png])
        if r.returncode == 0:
            log("wrote", png)


if __name__ == "__main__":
    main()
