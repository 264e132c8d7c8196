#!/usr/bin/env bash
# The v7 hwr pair. The teacher: the v5 teacher (as staged) fine-tuned for 9000 more steps on a
# mix with more real pen writing (UNIPEN share 0.55 -> 0.65; of it, real lines 0.5 -> 0.6,
# composed words 0.35, composed digit strings 0.05), fresh data (seed 71) and a restarted
# learning rate (1.5e-4 down to 1.5e-5), since the v5 teacher was still improving on the
# validation writers when it stopped (18.52, 17.90, 17.78% at steps 4500, 6000, 8000) and reads
# the test writers at 13.65% with the LM, against a target of 10%
# (training/recipes/hwr/v7/finetune-hwr-v7-teacher.json). The student: distilled from it
# (cnn-l2, 2000 steps, then 2000 of CTC; distill-hwr-student-v7.json) and fine-tuned for 8000
# more (finetune-hwr-student-v7.json), on the student's share of the same mix (0.6), as the v6
# student was made from the v5 teacher.
#
# Each step's best model is staged in assets/models/staging/; run the script again after an
# interruption (a staged step is skipped, an interrupted one resumes from its checkpoint).
#
#   nohup training/pipelines/hwr-v7.sh >> runs/hwr-v7.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
recipes=training/recipes/hwr/v7
teacher=$staging/hwr-teacher-cpu-v7.inkm
if [ ! -f "$teacher" ]; then
    out=runs/hwr-v7-teacher
    "$engine" finetune --model "$staging/hwr-teacher-cpu-v5.inkm" \
        --config "$recipes/finetune-hwr-v7-teacher.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$teacher")"
fi
distilled=$staging/hwr-student-cpu-v7-distilled.inkm
if [ ! -f "$distilled" ]; then
    out=runs/hwr-v7-distill-student
    "$engine" distill --config "$recipes/distill-hwr-student-v7.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$distilled")"
fi
student=$staging/hwr-student-cpu-v7.inkm
if [ ! -f "$student" ]; then
    out=runs/hwr-v7-finetune-student
    "$engine" finetune --model "$distilled" --config "$recipes/finetune-hwr-student-v7.json" \
        --out "$out" $(resume "$out")
    stage "$out" "$(basename "$student")"
fi
echo "the v7 pair is staged: $teacher, $student"
