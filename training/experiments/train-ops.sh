#!/usr/bin/env bash
# Our training operations against Burn's: the same 200-step run of the teacher-cpu recipe
# (training/experiments/train-ops.json, from scratch, one thread each) on Burn's operations
# (INKLING_TRAIN_OPS=burn) and on ours, then the two loss curves side by side (means of
# 20-step windows), their largest relative gap, each run's lines/s and validation CER.
#
#   training/experiments/train-ops.sh [OUT_DIR]       # default runs/check-train-ops
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/check-train-ops}
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
for ops in burn ours; do
    rm -rf "$out/$ops"
    INKLING_TRAIN_OPS=$ops RAYON_NUM_THREADS=1 "$engine" train \
        --config training/experiments/train-ops.json --out "$out/$ops" > "$out-$ops.log" 2>&1
done
python3 - "$out" <<'PY'
import csv, sys
out = sys.argv[1]
def read(ops):
    rows = list(csv.DictReader(open(f"{out}/{ops}/metrics.csv")))
    loss = [float(r["loss"]) for r in rows if r["loss"]]
    cer = [r["val_cer"] for r in rows if r["val_cer"]]
    rate = [float(r["lines_per_s"]) for r in rows if r["lines_per_s"] and float(r["lines_per_s"]) > 0]
    return loss, cer, sorted(rate)[len(rate) // 2] if rate else 0.0
(burn, burn_cer, burn_rate), (ours, ours_cer, ours_rate) = read("burn"), read("ours")
print("| steps | loss, Burn's ops | loss, ours | relative gap |\n|---|---|---|---|")
worst = 0.0
for i in range(0, min(len(burn), len(ours)), 20):
    a = sum(burn[i:i + 20]) / len(burn[i:i + 20])
    b = sum(ours[i:i + 20]) / len(ours[i:i + 20])
    gap = abs(a - b) / a
    worst = max(worst, gap)
    print(f"| {i + 1}-{i + 20} | {a:.3f} | {b:.3f} | {100 * gap:.2f}% |")
print(f"\nlargest gap of the 20-step means: {100 * worst:.2f}%")
print(f"validation CER, Burn's: {burn_cer}, ours: {ours_cer}")
print(f"median lines/s, Burn's: {burn_rate:.1f}, ours: {ours_rate:.1f} ({ours_rate / burn_rate:.2f}x)")
PY
