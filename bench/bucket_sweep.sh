#!/bin/sh
# Callgrind figures per call for the bucket sweep (bench/bucket_sweep.c):
# instructions, data reads and simulated misses of a whole lookup hit and
# miss, of the part inside the bucket, and of a bucket delete + insert.
#   sh bench/bucket_sweep.sh WORKLOAD "B:K B:K ..." [QUERIES]
# e.g. sh bench/bucket_sweep.sh urls "0:0 32:4096 64:4096" 100000
# (run from the repository root; B = 0 is today's tree, no buckets).
# The last-level cache is simulated as this machine's L3 (32 MiB, 16-way):
# its misses (DLmr) stand for trips to DRAM; L1 (D1mr) is the host's.
# LL=2097152,16,64 simulates the 2 MiB L2 instead (misses past L2).
# SWEEP_ARGS passes more options (e.g. SWEEP_ARGS="-a 1", or an inner
# layout: SWEEP_ARGS="-I hot -k 32", "-I span -S 4 -C 64"); outputs are
# named by workload, B, K and TAG (when set).
set -e
W=${1:-urls}
CONFIGS=${2:-"0:0 16:4096 32:4096 48:4096 64:4096 96:4096 128:4096"}
Q=${3:-100000}
KEYS=bench/.cache/v3-$W-1000000.keys
[ -f "$KEYS" ] || python3 -c "import sys; sys.path.insert(0, 'bench'); import workloads; workloads.prepare('bench/.cache', '$W', 1000000)"
mkdir -p bench/.build
BIN=bench/.build/bucket_sweep
# -fno-ipa-icf: bucket_find and bucket_miss are the same code, kept apart.
# -mbmi2: PEXT for the compound nodes (a portable loop without it).
[ -x $BIN ] || cc -O2 -g -std=c11 -mbmi2 -fno-ipa-icf -Icore core/*.c bench/bucket_sweep.c -o $BIN -lm -lpthread
for c in $CONFIGS; do
    B=${c%%:*}
    K=${c##*:}
    OUT=bench/.build/callgrind.bucket.$W.$B.$K${TAG:+.$TAG}
    valgrind --tool=callgrind --cache-sim=yes --LL=${LL:-33554432,16,64} \
        --callgrind-out-file=$OUT \
        $BIN -f "$KEYS" -B "$B" -K "$K" -q "$Q" -r 1 $SWEEP_ARGS \
        -p lookup,keys,miss,reinsert >$OUT.log 2>&1
    callgrind_annotate --inclusive=yes --auto=yes $OUT >$OUT.txt 2>/dev/null
    python3 - "$OUT" "$W" "$B" "$K" <<'PY'
import re, sys
out, w, b, k = sys.argv[1:5]
lines = open(out + ".txt").read().splitlines()
events = None
for line in lines:
    if line.startswith("Events shown:"):
        events = line.split(":", 1)[1].split()
        break
seen = {}
for line in lines:
    m = re.search(r"=> \S*:(lookup|touch_key|miss_lookup|bucket_find|bucket_miss|bucket_reinsert|prefix_check|prefix_miss) \(([\d,]+)x\)", line)
    if not m:
        continue
    nums = re.findall(r"([\d,]+|\.)\s+(?:\([\s\d.]+%\)\s+)?", line.split("=>")[0])
    vals = [0 if v == "." else int(v.replace(",", "")) for v in nums]
    ev = dict(zip(events, vals))
    calls = int(m.group(2).replace(",", ""))
    name = m.group(1)
    seen.setdefault(name, (calls, ev))  # one call site each
shape = ""
for line in open(out + ".log"):
    if line.startswith("B=") or line.startswith("inner="):
        shape += line.strip() + "\n"
print(shape, end="")
for name in ("lookup", "touch_key", "bucket_find", "prefix_check", "miss_lookup", "bucket_miss", "prefix_miss", "bucket_reinsert"):
    if name in seen:
        calls, ev = seen[name]
        print("  %s %s %s %-16s calls %8d  Ir %6.0f  Dr %6.1f  D1mr %5.2f  DLmr %5.2f" % (
            w, b, k, name, calls, ev.get("Ir", 0) / calls, ev.get("Dr", 0) / calls,
            ev.get("D1mr", 0) / calls, ev.get("DLmr", 0) / calls))
PY
done
