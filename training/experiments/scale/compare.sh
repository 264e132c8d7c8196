#!/usr/bin/env bash
# Scale-out compared on curves: does a second worker reach the single worker's validation CER
# sooner? Every arm trains the same recipe, training/experiments/scale/TASK.json: ocr trains a
# student-cpu from scratch on synthetic printed lines; hwr fine-tunes the shipped printed-text
# student (assets/models/ocr-student-cpu.inkm) on handwriting (the v7 mix of synthetic and
# UNIPEN lines), validated on the real lines of the three UNIPEN validation contributors;
# hwr-fonts is the same fine-tuning validated on 200 lines of the held-out handwriting fonts
# instead (a curve that still falls at the end of the run, where the 85 real lines give one
# that is flat after a few hundred steps, so that its time to a CER is mostly noise).
#
#   one-worker            1 worker on 1 thread: the reference
#   one-worker-2-threads  1 worker on 2 threads (what one process makes of both cores)
#   bmuf-threads          2 worker threads, 1 thread each, BMUF (tau 2, no block momentum;
#                         block learning rate 1.4 on the hwr fine-tunings, 1 on ocr)
#   bmuf-processes        2 processes on loopback, 1 thread each, the same BMUF
#   ddp-threads           2 worker threads, 1 thread each, DDP
#
# Each worker takes half of every batch (the default), so two workers make the same updates on
# the same lines as one. The runs time themselves: run this on an otherwise idle
# machine (it runs the arms one after the other). Finished arms are kept; run it again to
# finish the others. Then `engine experiment scale` writes training/experiments/scale/scale-TASK
# .json/.md/.png: validation CER against training seconds and lines seen, the time to the
# reference's final CER and the speed-up.
#
#   training/experiments/scale/compare.sh ocr     # runs in runs/scale-ocr/
#   training/experiments/scale/compare.sh hwr
#   training/experiments/scale/compare.sh hwr-fonts
set -euo pipefail
cd "$(dirname "$0")/../../.."
task=${1:?usage: compare.sh ocr|hwr|hwr-fonts}
recipe=training/experiments/scale/$task.json
[ -f "$recipe" ] || { echo "no recipe $recipe" >&2; exit 2; }
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
out=runs/scale-$task
mkdir -p "$out"
# BMUF's block learning rate is set per task (training/README.md, "Scale-out"): 1.4 made up
# for the averaged half-batch AdamW steps on the fine-tunings and hurt the from-scratch run.
case $task in
    hwr|hwr-fonts)
        run=(finetune --model assets/models/ocr-student-cpu.inkm --config "$recipe")
        bmuf=(--strategy bmuf --sync-every 2 --block-lr 1.4) ;;
    *)
        run=(train --config "$recipe")
        bmuf=(--strategy bmuf --sync-every 2) ;;
esac
done_() { compgen -G "$out/$1/*-last.inkm" > /dev/null; }

arm() { # name threads [engine options...]
    local name=$1 threads=$2
    shift 2
    if done_ "$name"; then return; fi
    rm -rf "${out:?}/$name"
    echo "$(date +%T) $name"
    RAYON_NUM_THREADS=$threads "$engine" "${run[@]}" --out "$out/$name" "$@" > "$out/$name.log" 2>&1
}

arm one-worker 1
arm one-worker-2-threads 2
arm bmuf-threads 2 --workers 2 "${bmuf[@]}"
arm ddp-threads 2 --workers 2 --strategy ddp
if ! done_ bmuf-processes; then
    rm -rf "$out/bmuf-processes" "$out/bmuf-processes-node1"
    echo "$(date +%T) bmuf-processes"
    port=$((20000 + RANDOM % 20000))
    common=("${run[@]}" --nodes 2 --coordinator "127.0.0.1:$port" "${bmuf[@]}")
    RAYON_NUM_THREADS=1 "$engine" "${common[@]}" --node-rank 1 --out "$out/bmuf-processes-node1" \
        > "$out/bmuf-processes-node1.log" 2>&1 &
    RAYON_NUM_THREADS=1 "$engine" "${common[@]}" --node-rank 0 --out "$out/bmuf-processes" \
        > "$out/bmuf-processes.log" 2>&1
    wait
fi

"$engine" experiment scale \
    --run "one worker, 1 thread=$out/one-worker" \
    --run "one worker, 2 threads=$out/one-worker-2-threads" \
    --run "BMUF, 2 threads=$out/bmuf-threads" \
    --run "BMUF, 2 processes=$out/bmuf-processes" \
    --run "DDP, 2 threads=$out/ddp-threads" \
    --json "training/experiments/scale/scale-$task.json" \
    --plot "training/experiments/scale/scale-$task.png"
