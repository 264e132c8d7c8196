#!/usr/bin/env bash
# The v5 hwr pair: the v4 teacher (stage 2, as staged) fine-tuned for 8000 more steps on the
# same mix of real pen writing (UNIPEN share 0.55) and the v3 mix, with pen-stroke fonts raised
# from 0.2 to 0.35 of the rest (the v4 teacher lost a point on the held-out pen-stroke fonts),
# recipes in training/recipes/hwr/v5/; then a student distilled from it (cnn-l2) and fine-tuned.
# Validation: the UNIPEN contributors abm, bba and ceb; apd, ape, bbb, cea and pri are the test
# set (training/tools/eval-unipen.sh); no recipe trains on either.
#
# Each step's best model is staged in assets/models/staging/ (the app does not read it). Run
# the script again after any interruption: a staged step is skipped, an interrupted one resumes
# from its last checkpoint.
#
#   nohup training/pipelines/hwr-v5.sh >> runs/hwr-v5.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
recipes=training/recipes/hwr/v5

teacher=$staging/hwr-teacher-cpu-v5.inkm
if [ ! -f "$teacher" ]; then
    out=runs/hwr-v5-teacher
    "$engine" finetune --model "$staging/hwr-teacher-cpu-v4-stage2.inkm" \
        --config "$recipes/finetune-hwr-v5-teacher.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$teacher")"
fi
distilled=$staging/hwr-student-cpu-v5-distilled.inkm
if [ ! -f "$distilled" ]; then
    out=runs/hwr-v5-distill-student
    "$engine" distill --config "$recipes/distill-hwr-student-v5.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$distilled")"
fi
student=$staging/hwr-student-cpu-v5.inkm
if [ ! -f "$student" ]; then
    out=runs/hwr-v5-finetune-student
    "$engine" finetune --model "$distilled" --config "$recipes/finetune-hwr-student-v5.json" \
        --out "$out" $(resume "$out")
    stage "$out" "$(basename "$student")"
fi
echo "the v5 pair is staged: $teacher, $student"
