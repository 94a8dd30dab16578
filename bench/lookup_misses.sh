#!/bin/sh
# Instructions and simulated cache misses per lookup hit, of a whole
# `m[k]` iteration of the interpreter, for dict and blart.TreeMap: valgrind
# runs bench/lookup_misses.py with 0 and 1 passes of 1M lookups, and the
# difference of the program's totals, divided by 1M, is one lookup's cost.
# str hashes are fixed (PYTHONHASHSEED=0) so that both runs fill the same
# dict the same way.  The last level is modelled as 8 MB (valgrind would take the host's,
# reported as hundreds of MB on this VM, which holds every map whole).
#   sh bench/lookup_misses.sh [PYTHON]   (run from the repository root;
#   PYTHON has blart installed, default .venv/bin/python; about 5 minutes)
set -e
PY=${1:-.venv/bin/python}
KEYS=bench/.cache/v3-urls-1000000.keys
[ -f "$KEYS" ] || "$PY" -c "import sys; sys.path.insert(0, 'bench'); import workloads; workloads.prepare('bench/.cache', 'urls', 1000000)"
mkdir -p bench/.build
for w in dict blart; do
    for p in 0 1; do
        PYTHONHASHSEED=0 valgrind --tool=callgrind --cache-sim=yes --LL=8388608,16,64 \
            --callgrind-out-file=bench/.build/lookup_misses.$w.$p \
            "$PY" bench/lookup_misses.py $w $p > /dev/null 2>&1
    done
done
python3 - <<'PY'
import re, subprocess
def totals(path):
    out = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout
    events = re.search(r"^Events shown:\s+(.*)$", out, re.M).group(1).split()
    line = next(l for l in out.splitlines() if "PROGRAM TOTALS" in l)
    nums = [int(x.replace(",", "")) for x in re.findall(r"[\d,]+(?=\s)", line.split("PROGRAM")[0]) if "," in x or x.isdigit()]
    return dict(zip(events, nums))
print("per lookup hit (1M urls, 8 MB last level): %-5s %8s %8s %8s" % ("", "Ir", "D1mr", "DLmr"))
for w in ("dict", "blart"):
    a, b = totals("bench/.build/lookup_misses.%s.1" % w), totals("bench/.build/lookup_misses.%s.0" % w)
    d = {k: (a[k] - b[k]) / 1e6 for k in a}
    print("  %-40s %8.0f %8.2f %8.2f" % (w, d["Ir"], d["D1mr"], d["DLmr"]))
PY
