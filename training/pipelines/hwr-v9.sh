#!/usr/bin/env bash
# The v9 hwr pair: the v8 pair fine-tuned on the UNIPEN labels with their punctuation joined
# to its word. Six training contributors (att, cec, ced, hpb, hpp, sta) typed their labels as
# tokens ("Susan ?", "November , Walker"), so the v8 models learned a space before a mark that
# their writers never wrote, and put one on about one test line in eleven. The reader now
# joins such marks to their word (engine/src/data/ink/unipen.rs), so the same mix with fresh
# data teaches one convention:
#   1. the student: the shipped v8 student (after its low-rate stage) fine-tuned 2000 steps
#      at 1e-4 down to 1e-5 (finetune-hwr-student-v9.json; about 10 minutes on 2 cores);
#   2. the teacher: the v8 teacher (stage 2) fine-tuned 2500 steps at 6e-5 down to 1.2e-5
#      (finetune-hwr-teacher-v9.json; about 80 minutes).
# The student is fine-tuned with CTC on its own (it is not distilled again from the new
# teacher), so the two steps are independent.
#
# Each step's best model is staged in assets/models/staging/; run the script again after an
# interruption (a staged step is skipped, an interrupted one resumes from its checkpoint).
#
#   nohup training/pipelines/hwr-v9.sh >> runs/hwr-v9.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
recipes=training/recipes/hwr/v9
finetune_staged hwr-student-cpu-v9.inkm "$staging/hwr-student-cpu-v8-low.inkm" \
    "$recipes/finetune-hwr-student-v9.json" runs/hwr-v9-finetune-student
finetune_staged hwr-teacher-wide-v9.inkm "$staging/hwr-teacher-wide-v8-stage2.inkm" \
    "$recipes/finetune-hwr-teacher-v9.json" runs/hwr-v9-finetune-teacher
echo "the v9 pair is staged: $staging/hwr-teacher-wide-v9.inkm, $staging/hwr-student-cpu-v9.inkm"
