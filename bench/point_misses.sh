#!/bin/sh
# Instructions and simulated cache misses per insert and per lookup hit
# of a whole interpreter iteration (`m[k] = 1`, `m[k]`), for dict and
# blart.TreeMap on the 1M urls keys: valgrind runs bench/point_misses.py
# with COUNT 0 and 1 for each, and the difference of the program's totals,
# divided by 1M, is one operation's cost.  str hashes are fixed
# (PYTHONHASHSEED=0) so that the runs fill their maps alike.  The last
# level is modelled as 8 MB (valgrind would take the host's, reported as
# hundreds of MB on this VM, which holds every map whole).
#   sh bench/point_misses.sh [PYTHON]   (from the repository root; PYTHON
#   has blart installed, default .venv/bin/python; about 10 minutes)
set -e
PY=${1:-.venv/bin/python}
KEYS=bench/.cache/v3-urls-1000000.keys
[ -f "$KEYS" ] || "$PY" -c "import sys; sys.path.insert(0, 'bench'); import workloads; workloads.prepare('bench/.cache', 'urls', 1000000)"
mkdir -p bench/.build
for op in insert lookup; do
    for w in dict blart; do
        for n in 0 1; do
            PYTHONHASHSEED=0 valgrind --tool=callgrind --cache-sim=yes \
                --LL=8388608,16,64 \
                --callgrind-out-file=bench/.build/point_misses.$op.$w.$n \
                "$PY" bench/point_misses.py $w $op $n > /dev/null 2>&1
        done
    done
done
python3 - <<'PY'
import re, subprocess
def totals(path):
    out = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout
    events = re.search(r"^Events shown:\s+(.*)$", out, re.M).group(1).split()
    line = next(l for l in out.splitlines() if "PROGRAM TOTALS" in l)
    nums = [int(x.replace(",", "")) for x in re.findall(r"(?<![\d.(])[\d,]+(?=\s)", line.split("PROGRAM")[0])]
    return dict(zip(events, nums))
print("per operation (1M urls, 8 MB last level):  Ir  D1mr  D1mw  DLmr  DLmw")
for op in ("insert", "lookup"):
    for w in ("dict", "blart"):
        a = totals("bench/.build/point_misses.%s.%s.1" % (op, w))
        b = totals("bench/.build/point_misses.%s.%s.0" % (op, w))
        d = {k: (a[k] - b[k]) / 1e6 for k in a}
        print("  %-6s %-6s %8.0f %6.2f %6.2f %6.2f %6.2f"
              % (op, w, d["Ir"], d["D1mr"], d["D1mw"], d["DLmr"], d["DLmw"]))
PY
