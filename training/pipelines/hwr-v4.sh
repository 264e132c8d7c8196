#!/usr/bin/env bash
# The v4 hwr pair, the first that reads real handwriting. The teacher is the v3 (stage 6)
# teacher fine-tuned in stages on a mix where half or more of the lines are real pen writing
# from UNIPEN (real lines, words composed into lines, digits composed into numbers;
# training/tools/fetch_unipen.sh fills the cache), the rest the v3 mix (clean fonts, pen-stroke
# fonts, MNIST digits):
#   stage 1: training/recipes/hwr/v4/finetune-hwr-v4-teacher-1.json (UNIPEN share 0.5);
#   stage 2: training/recipes/hwr/v4/finetune-hwr-v4-teacher-2.json (share 0.6, whiteboard-photo effects).
# Then a student distilled from the last stage (cnn-l2, the hwr table's best criterion;
# training/recipes/hwr/v4/distill-hwr-student-v4.json) and fine-tuned (finetune-hwr-student-v4.json).
# Validation: every line of the UNIPEN contributors abm, bba and ceb (stage 1: and scr); apd,
# ape, bbb, cea and pri are the test set (training/tools/eval-unipen.sh); no recipe trains on either.
#
# Each step's best model is staged in assets/models/staging/ (the app does not read it).
# Run the script again after any interruption: a staged step is skipped, an interrupted one
# resumes from its last checkpoint.
#
#   nohup training/pipelines/hwr-v4.sh >> runs/hwr-v4.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"

previous=$staging/hwr-teacher-cpu-v3-stage6.inkm  # the shipped v3 teacher, as staged
for stage in 1 2; do
    teacher=$staging/hwr-teacher-cpu-v4-stage$stage.inkm
    if [ ! -f "$teacher" ]; then
        out=runs/finetune-hwr-v4-teacher-$stage
        "$engine" finetune --model "$previous" \
            --config training/recipes/hwr/v4/finetune-hwr-v4-teacher-$stage.json --out "$out" $(resume "$out")
        cp "$out/finetune-best.inkm" "$teacher"
        echo "staged $teacher"
    fi
    previous=$teacher
done
distilled=$staging/hwr-student-cpu-v4-distilled.inkm
if [ ! -f "$distilled" ]; then
    out=runs/distill-hwr-student-v4
    "$engine" distill --config training/recipes/hwr/v4/distill-hwr-student-v4.json --out "$out" $(resume "$out")
    cp "$out/finetune-best.inkm" "$distilled"
    echo "staged $distilled"
fi
student=$staging/hwr-student-cpu-v4.inkm
if [ ! -f "$student" ]; then
    out=runs/finetune-hwr-student-v4
    "$engine" finetune --model "$distilled" --config training/recipes/hwr/v4/finetune-hwr-student-v4.json \
        --out "$out" $(resume "$out")
    cp "$out/finetune-best.inkm" "$student"
    echo "staged $student"
fi
echo "the v4 pair is staged: $previous, $student"
