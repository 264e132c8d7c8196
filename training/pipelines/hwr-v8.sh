#!/usr/bin/env bash
# The v8 hwr pair: a wider teacher. The v7 teacher reads even the pen lines it trained on at
# 17-20% CER greedy (UNIPEN contributors att, cec, scr, sta; 14.6% on the validation writers),
# so it underfits real handwriting: more capacity, not more passes, is what it lacks. Training
# a larger teacher from scratch would take many sessions on 2 cores, so the v7 teacher is made
# twice as wide by Net2Net (`engine widen`: every conv layer gets twice the channels, copies of
# the trained ones, and the model reads exactly as before; 1.13M -> 2.57M parameters,
# 0.88 -> 3.10 GFLOPs), then fine-tuned for 5000 steps on the v7 mix with fresh data and a
# restarted learning rate, 2e-4 down to 2e-5, in two staged stages of 2500 steps
# (finetune-hwr-v8-teacher-stage1.json keeps the rate near 2e-4, stage2 brings it down by a
# cosine; each stage starts from the last one's best model with fresh optimizer moments and fresh
# data). A stage takes about 90 minutes on 2 cores of an AVX2 machine, so one fits a working
# session, whose run folder does not outlive it; a first, uncut run had passed the v7 teacher's
# validation CER by its step 2000. Its feature
# sequence and DBLSTM keep their sizes, so the student is distilled from it as before (cnn-l2,
# 2000 steps + 2000 of CTC; distill-hwr-student-v8.json), fine-tuned for 8000 steps
# (finetune-hwr-student-v8.json), then 2000 more at a low rate (1e-4;
# finetune-hwr-student-v8-low.json), which helped the v7 student on real writers.
#
# Each step's best model is staged in assets/models/staging/; run the script again after an
# interruption (a staged step is skipped, an interrupted one resumes from its checkpoint).
#
#   nohup training/pipelines/hwr-v8.sh >> runs/hwr-v8.log 2>&1 &
source "$(dirname "$0")/hwr-setup.sh"
recipes=training/recipes/hwr/v8
teacher=$staging/hwr-teacher-wide-v8-stage2.inkm
previous=runs/hwr-v8-teacher-widened.inkm
for k in 1 2; do
    stage_model=$staging/hwr-teacher-wide-v8-stage$k.inkm
    if [ ! -f "$stage_model" ]; then
        if [ "$k" = 1 ] && [ ! -f "$previous" ]; then
            "$engine" widen --model "$staging/hwr-teacher-cpu-v7.inkm" --factor 2 --seed 1 \
                --out "$previous"
        fi
        out=runs/hwr-v8-teacher-stage$k
        "$engine" finetune --model "$previous" \
            --config "$recipes/finetune-hwr-v8-teacher-stage$k.json" --out "$out" $(resume "$out")
        stage "$out" "$(basename "$stage_model")"
    fi
    previous=$stage_model
done
distilled=$staging/hwr-student-cpu-v8-distilled.inkm
if [ ! -f "$distilled" ]; then
    out=runs/hwr-v8-distill-student
    "$engine" distill --config "$recipes/distill-hwr-student-v8.json" --out "$out" $(resume "$out")
    stage "$out" "$(basename "$distilled")"
fi
student=$staging/hwr-student-cpu-v8.inkm
if [ ! -f "$student" ]; then
    out=runs/hwr-v8-finetune-student
    "$engine" finetune --model "$distilled" --config "$recipes/finetune-hwr-student-v8.json" \
        --out "$out" $(resume "$out")
    stage "$out" "$(basename "$student")"
fi
low=$staging/hwr-student-cpu-v8-low.inkm
if [ ! -f "$low" ]; then
    out=runs/hwr-v8-finetune-student-low
    "$engine" finetune --model "$student" --config "$recipes/finetune-hwr-student-v8-low.json" \
        --out "$out" $(resume "$out")
    stage "$out" "$(basename "$low")"
fi
echo "the v8 pair is staged: $teacher, $student (and $low)"
