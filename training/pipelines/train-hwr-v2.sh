#!/usr/bin/env bash
# The v2 hwr teacher (shipped), in stages of 2000 steps (training/pipelines/train-staged.sh):
#   stage 1 trains from scratch (training/recipes/archive/hwr-v2/teacher-cpu-hwr-v2.json: 31 training fonts, 10% real
#   digits, 20% pen strokes; warm-up then cosine down to 0.4 of the peak rate);
#   stages 2-5 fine-tune the previous stage's model on fresh synthetic lines (another data
#   seed each) at a falling rate (training/recipes/archive/hwr-v2/finetune-hwr-v2-stage{2..5}.json); stage 5 ships.
#   Stage 6 (training/recipes/archive/hwr-v2/finetune-hwr-v2-stage6.json) tried one more at a lower rate still: not
#   shipped (mixed results, see training/README.md); `training/pipelines/train-hwr-v2.sh 6` reruns it.
# Staged models: assets/models/staging/hwr-teacher-cpu-v2-stageN.inkm. One stage per call:
#
#   nohup training/pipelines/train-hwr-v2.sh [LAST] >> runs/hwr-v2.log 2>&1 &
#
# LAST (default 5, the shipped stage) is the last stage to train.
exec "$(dirname "$0")/train-staged.sh" hwr v2 "${1:-5}"
