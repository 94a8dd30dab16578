#!/bin/sh
# Instructions and cache misses per operation of the C tree alone, from
# callgrind's inclusive counts divided by the number of calls.
#   sh bench/callgrind.sh [N]        (run from the repository root)
# Needs valgrind; builds bench/.build/micro_art if missing.
set -e
N=${1:-1000000}
KEYS=bench/.cache/v3-urls-$N.keys
[ -f "$KEYS" ] || python3 -c "import sys; sys.path.insert(0, 'bench'); import workloads; workloads.prepare('bench/.cache', 'urls', $N)"
[ -x bench/.build/micro_art ] || { mkdir -p bench/.build; cc -O2 -g -std=c11 -Icore core/*.c bench/micro_art.c -o bench/.build/micro_art -lm; }
OUT=bench/.build/callgrind.out.micro
valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file=$OUT \
    bench/.build/micro_art -n "$N" -f "$KEYS" -r 1 -p insert,lookup,miss,iter,frozen 2>&1 | grep -v '^==' || true
callgrind_annotate --inclusive=yes --auto=yes $OUT > $OUT.txt 2>/dev/null
python3 - "$OUT" <<'PY'
import re, sys
# callgrind_annotate lists, under each annotated source line of micro_art.c,
# the calls made there as "=> file:function (Nx)" with inclusive costs:
# one such line per phase (insert, lookup hits, misses, iteration).
out = sys.argv[1]
lines = open(out + ".txt").read().splitlines()
events = None
for line in lines:
    if line.startswith("Events shown:"):
        events = line.split(":", 1)[1].split()
        break
print("per call, inclusive (callgrind, simulated %s):" % " ".join(events))
print("  %-34s %9s %8s %8s %8s %8s" % ("call site", "calls", "Ir", "Dr", "D1mr", "D1mw"))
prev = ""
for line in lines:
    m = re.search(r"=> \S*:(art_\w+) \(([\d,]+)x\)", line)
    if m and "micro_art" not in m.group(1):
        nums = re.findall(r"([\d,]+|\.)\s+(?:\([\s\d.]+%\)\s+)?", line.split("=>")[0])
        vals = [0 if v == "." else int(v.replace(",", "")) for v in nums]
        ev = dict(zip(events, vals))
        calls = int(m.group(2).replace(",", ""))
        print("  %-34s %9d %8.0f %8.1f %8.2f %8.2f" % (m.group(1), calls, ev.get("Ir", 0) / calls,
              ev.get("Dr", 0) / calls, ev.get("D1mr", 0) / calls, ev.get("D1mw", 0) / calls))
    elif line.strip() and not line.lstrip().startswith("=>"):
        prev = line
print("(micro_art.c calls, in order: art_insert = insert phase; art_search three times = hits, misses,")
print(" then hits in the tree opened from a file image (FrozenTreeMap's); art_cursor_next twice =")
print(" iteration in memory, then in the file-backed tree.  Full listing: %s.txt)" % out)
PY
