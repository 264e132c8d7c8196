#!/usr/bin/env bash
# Our training operations against Burn's: the same run on Burn's operations
# (INKLING_TRAIN_OPS=burn) and on ours, one thread each, then the two loss curves side by side
# (means of 20-step windows), their largest relative gap, each run's lines/s and validation CER.
#   train    the teacher-cpu recipe training/experiments/train-ops.json: 200 steps from scratch
#   distill  training/experiments/train-ops-distill.json: a student-cpu distilled from the
#            shipped ocr teacher (cnn-l2, 200 steps, the DBLSTM and IP layers frozen), then
#            fine-tuned with CTC (100 steps); the two phases' losses in one curve
#   finetune the CTC fine-tuning of that recipe alone (train-ops-finetune.json: the same data,
#            optimizer and 100 steps), both paths starting from one model: MODEL, by default
#            the student distilled on Burn's operations by `distill` (run it first). Without
#            it, the two fine-tunings start from the two slightly different distilled students
#            and their curves compare two starts as much as two paths.
#
#   training/experiments/train-ops.sh [train|distill] [OUT_DIR]   # default runs/check-train-ops[-distill]
#   training/experiments/train-ops.sh finetune [OUT_DIR] [MODEL]   # default runs/check-train-ops-finetune
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-train}
case $what in
    train) cmd=(train --config training/experiments/train-ops.json); out=${2:-runs/check-train-ops} ;;
    distill) cmd=(distill --config training/experiments/train-ops-distill.json)
        out=${2:-runs/check-train-ops-distill} ;;
    finetune) model=${3:-runs/check-train-ops-distill/burn/distill-last.inkm}
        [ -f "$model" ] || { echo "no $model: run train-ops.sh distill first" >&2; exit 2; }
        cmd=(finetune --model "$model" --config training/experiments/train-ops-finetune.json)
        out=${2:-runs/check-train-ops-finetune} ;;
    *) echo "usage: train-ops.sh [train|distill] [OUT_DIR] | finetune [OUT_DIR] [MODEL]" >&2; exit 2 ;;
esac
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
mkdir -p "$out"
for ops in burn ours; do
    rm -rf "${out:?}/$ops"
    INKLING_TRAIN_OPS=$ops RAYON_NUM_THREADS=1 "$engine" "${cmd[@]}" --out "$out/$ops" \
        > "$out-$ops.log" 2>&1
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
