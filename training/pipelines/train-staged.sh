#!/usr/bin/env bash
# A teacher trained in stages, each short enough (under two hours alone on this 2-core
# machine) for one session to finish it and commit its model, so that no stage is lost with a
# machine:
#   stage 1 trains from scratch (teacher-cpu-TASK-VERSION.json);
#   stage N > 1 fine-tunes stage N-1's model on fresh synthetic lines (another data seed
#   each) at a falling rate (finetune-TASK-VERSION-stageN.json);
# the recipes are found by name under training/recipes/ (e.g. recipes/hwr/v3/).
# Each stage's best model is copied to
# assets/models/staging/TASK-teacher-cpu-VERSION-stageN.inkm (a subfolder the app does not
# read) to be committed. Run it again after any interruption: a stage whose model is already
# staged is skipped, an interrupted one resumes from its checkpoint. One stage per call, so a
# session can stop after it:
#
#   nohup training/pipelines/train-staged.sh TASK VERSION [LAST] >> runs/TASK-VERSION.log 2>&1 &
#
# TASK: hwr or ocr. VERSION: v2 (the shipped hwr teacher; training/pipelines/train-hwr-v2.sh) or v3
# (the recipes without the fonts that are also npm @fontsource packages). LAST (default 6)
# is the last stage to train; a stage without a recipe stops the script with a message.
set -euo pipefail
cd "$(dirname "$0")/../.."
task=${1:?usage: training/pipelines/train-staged.sh TASK VERSION [LAST]}
version=${2:?usage: training/pipelines/train-staged.sh TASK VERSION [LAST]}
last=${3:-6}
mkdir -p runs assets/models/staging
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
staged() { echo "assets/models/staging/$task-teacher-cpu-$version-stage$1.inkm"; }

for stage in $(seq 1 "$last"); do
    [ -f "$(staged "$stage")" ] && continue
    out=runs/$task-$version-stage$stage
    resume=()
    [ -f "$out/config.json" ] && resume=(--resume)
    if [ "$stage" = 1 ]; then
        name=teacher-cpu-$task-$version.json
    else
        name=finetune-$task-$version-stage$stage.json
    fi
    recipe=$(find training/recipes -name "$name" -print -quit)
    if [ -z "$recipe" ]; then
        echo "stage $stage: no recipe $name under training/recipes; stages 1-$((stage - 1)) are staged"
        exit 0
    fi
    if [ "$stage" = 1 ]; then
        "$engine" train --config "$recipe" --out "$out" "${resume[@]}"
        cp "$out/train-best.inkm" "$(staged 1)"
    else
        "$engine" finetune --model "$(staged $((stage - 1)))" \
            --config "$recipe" --out "$out" "${resume[@]}"
        cp "$out/finetune-best.inkm" "$(staged "$stage")"
    fi
    echo "stage $stage staged: $(staged "$stage")"
    exit 0
done
echo "stages 1-$last are staged"
