#!/usr/bin/env bash
# Scale-out measurement of engine/README.md: the same 15360 training lines (student-cpu from scratch,
# synthetic ocr, validated on 200 lines in 5 held-out fonts) seen by one worker (960 steps of 16
# lines), by two local workers (480 steps each) with BMUF (tau 8) and with DDP, and by two
# processes on loopback (BMUF, one worker each). Prints wall time, lines/s and the validation
# CER/WER at the end of each run.
#
#   training/experiments/measure-scale.sh            # runs in runs/scale/ (resumes finished runs at once)
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
out=runs/scale
mkdir -p "$out"

run() { # name recipe [engine options...]
    local name=$1 recipe=$2
    shift 2
    if [ -f "$out/$name/train-last.inkm" ]; then return; fi
    rm -rf "$out/$name"
    "$engine" train --config "$recipe" --out "$out/$name" "$@" > "$out/$name.log" 2>&1
}

run one-worker training/experiments/scale-ocr-1w.json
run two-workers-bmuf training/experiments/scale-ocr-2w.json --workers 2 --strategy bmuf --sync-every 8
run two-workers-ddp training/experiments/scale-ocr-2w.json --workers 2 --strategy ddp
if [ ! -f "$out/two-processes/train-last.inkm" ]; then
    rm -rf "$out/two-processes" "$out/two-processes-node1"
    port=$((20000 + RANDOM % 20000))
    "$engine" train --config training/experiments/scale-ocr-2w.json --out "$out/two-processes-node1" \
        --nodes 2 --node-rank 1 --coordinator "127.0.0.1:$port" > "$out/two-processes-node1.log" 2>&1 &
    "$engine" train --config training/experiments/scale-ocr-2w.json --out "$out/two-processes" \
        --nodes 2 --node-rank 0 --coordinator "127.0.0.1:$port" > "$out/two-processes.log" 2>&1
    wait
fi

echo "| run | workers | steps each | lines | wall s | lines/s | val CER % | val WER % |"
echo "|---|---|---|---|---|---|---|---|"
for name in one-worker two-workers-bmuf two-workers-ddp two-processes; do
    workers=2; [ "$name" = one-worker ] && workers=1
    tail -n 1 "$out/$name/metrics.csv" | awk -F, -v n="$name" -v w="$workers" \
        '{ lines = $1 * 16 * w; printf "| %s | %d | %d | %d | %.0f | %.1f | %.2f | %.2f |\n", n, w, $1, lines, $7, lines / $7, $5, $6 }'
done
