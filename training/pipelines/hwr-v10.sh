#!/usr/bin/env bash
# The v10 hwr student: distilled afresh from the v9 teacher (which reads the UNIPEN test
# writers at 9.97% with the program's decoder, the v9 student at 12.21%), as the v8 student was
# from the v8 teacher, with a longer CNN distillation (the teacher's targets now come from the
# fast inference path):
#   1. cnn-l2 from the v9 teacher, 3000 steps at 2e-3, then 2000 CTC steps at 5e-4
#      (distill-hwr-student-v10.json);
#   2. CTC fine-tuning, 8000 steps at 3e-4 down to 3e-5 (finetune-hwr-student-v10.json);
#   3. 2000 steps at 1e-4 down to 1e-5 (finetune-hwr-student-v10-low.json).
# The mix and the validation writers are the v8 / v9 ones, with the labels' punctuation joined.
# Each step's best model is staged in assets/models/staging/; run the script again after an
# interruption (a staged step is skipped, an interrupted one resumes from its checkpoint).
#
#   nohup training/pipelines/hwr-v10.sh >> runs/hwr-v10.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
recipes=training/recipes/hwr/v10
distilled=$staging/hwr-student-cpu-v10-distilled.inkm
if [ ! -f "$distilled" ]; then
    out=runs/hwr-v10-distill-student
    "$engine" distill --config "$recipes/distill-hwr-student-v10.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$distilled")"
fi
finetune_staged hwr-student-cpu-v10.inkm "$distilled" \
    "$recipes/finetune-hwr-student-v10.json" runs/hwr-v10-finetune-student
finetune_staged hwr-student-cpu-v10-low.inkm "$staging/hwr-student-cpu-v10.inkm" \
    "$recipes/finetune-hwr-student-v10-low.json" runs/hwr-v10-finetune-student-low
echo "the v10 student is staged: $staging/hwr-student-cpu-v10-low.inkm"
