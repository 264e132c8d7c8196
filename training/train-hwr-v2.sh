#!/usr/bin/env bash
# The v2 hwr teacher, in stages of 2000 steps, each short enough (under two hours alone
# on this 2-core machine) for one session to finish it and commit its model, so that no stage
# is lost with a machine:
#   stage 1 trains from scratch (training/teacher-cpu-hwr-v2.json: 31 training fonts, 10% real
#   digits, 20% pen strokes; warm-up then cosine down to 0.4 of the peak rate);
#   stages 2-5 fine-tune the previous stage's model on fresh synthetic lines (another data
#   seed each) at a falling rate (training/finetune-hwr-v2-stage{2..5}.json); stage 5 ships.
#   Stage 6 (training/finetune-hwr-v2-stage6.json) tries one more at a lower rate still.
# Each stage's best model is copied to assets/models/staging/hwr-teacher-cpu-v2-stageN.inkm
# (a subfolder the app does not read) to be committed. Run it again after any interruption:
# a stage whose model is already staged is skipped, an interrupted one resumes from its
# checkpoint. One stage per call, so a session can stop after it:
#
#   nohup training/train-hwr-v2.sh [LAST] > runs/hwr-v2.log 2>&1 &
#
# LAST (default 6) is the last stage to train: `training/reproduce-cpu.sh` passes 5, the
# shipped stage.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs assets/models/staging
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
staged() { echo "assets/models/staging/hwr-teacher-cpu-v2-stage$1.inkm"; }

last=${1:-6}
for stage in $(seq 1 "$last"); do
    [ -f "$(staged $stage)" ] && continue
    out=runs/hwr-v2-stage$stage
    resume=()
    [ -f "$out/config.json" ] && resume=(--resume)
    if [ "$stage" = 1 ]; then
        "$engine" train --config training/teacher-cpu-hwr-v2.json --out "$out" "${resume[@]}"
        cp "$out/train-best.inkm" "$(staged 1)"
    else
        "$engine" finetune --model "$(staged $((stage - 1)))" \
            --config "training/finetune-hwr-v2-stage$stage.json" --out "$out" "${resume[@]}"
        cp "$out/finetune-best.inkm" "$(staged $stage)"
    fi
    echo "stage $stage staged: $(staged $stage)"
    exit 0
done
echo "stages 1-$last are staged"
