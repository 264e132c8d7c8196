#!/usr/bin/env bash
# The v6 hwr student: the shipped v5 student fine-tuned with CTC for 6000 more steps on fresh
# lines of the v5 mix (data seed 58; recipe training/recipes/hwr/v6/finetune-hwr-student-v6.json),
# since the v5 student's fine-tuning was still improving when it stopped (validation 26.24,
# 24.79, 24.55% at steps 500, 1500, 2000) and it reads unseen writers 4.3 points behind its
# teacher with the LM. Staged in assets/models/staging/; run again after an interruption.
#
#   nohup training/pipelines/hwr-v6.sh >> runs/hwr-v6.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
student=$staging/hwr-student-cpu-v6.inkm
if [ ! -f "$student" ]; then
    out=runs/hwr-v6-finetune-student
    "$engine" finetune --model "$staging/hwr-student-cpu-v5.inkm" \
        --config training/recipes/hwr/v6/finetune-hwr-student-v6.json --out "$out" $(resume "$out")
    cp "$out/finetune-best.inkm" "$student"
    echo "staged $student"
fi
