#!/usr/bin/env bash
# Reproduces every CPU-sized model and table of the README, in order, resumably: run it again
# after any interruption and each step resumes from its last checkpoint (finished steps return
# at once). Run folders go to runs/ (git-ignored). Each step's log: runs/<step>.log.
#
#   nohup training/reproduce-cpu.sh > runs/reproduce.log 2>&1 &
#
# Steps: the hwr teacher (5000 steps), the hwr distillation table (scratch student + 8
# criteria, each distilled then fine-tuned), the Tucker comparison (v1-v3 fine-tuned), the ocr
# teacher (2500 steps: printed lines are learned faster), the ocr table, the ocr student's
# longer fine-tuning (training/finetune-ocr-student{,-2}.json). Each trained teacher
# and the best student of each table are copied to assets/models/ (the shipped models), and the
# experiment recipes read those shipped files: a table can be rerun on a fresh checkout
# without training its teacher first, and `git diff assets/` shows whether a rerun reproduced
# the committed models bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine

train() { # recipe run-folder
    if [ -d "$2" ]; then
        "$engine" train --out "$2" --resume >> "$2.log" 2>&1
    else
        "$engine" train --config "$1" --out "$2" >> "$2.log" 2>&1
    fi
}
experiment() { # kind recipe out-folder
    "$engine" experiment "$1" --config "$2" --out "$3" >> "$3.log" 2>&1
}

finetune() { # model recipe run-folder
    if [ -d "$3" ]; then
        "$engine" finetune --model "$1" --config "$2" --out "$3" --resume >> "$3.log" 2>&1
    else
        "$engine" finetune --model "$1" --config "$2" --out "$3" >> "$3.log" 2>&1
    fi
}

ship() { # model-file shipped-file
    if [ -f "$1" ]; then cp "$1" "$2"; fi
}

train training/teacher-cpu-hwr.json runs/teacher-cpu-hwr
ship runs/teacher-cpu-hwr/train-best.inkm assets/models/hwr-teacher-cpu.inkm
experiment distill training/experiment-distill-hwr.json runs/experiment-distill-hwr
ship runs/experiment-distill-hwr/cnn-l2/finetune-best.inkm assets/models/hwr-student-cpu.inkm
experiment tucker training/experiment-tucker-hwr.json runs/experiment-tucker-hwr
train training/teacher-cpu-ocr.json runs/teacher-cpu-ocr
ship runs/teacher-cpu-ocr/train-best.inkm assets/models/ocr-teacher-cpu.inkm
experiment distill training/experiment-distill-ocr.json runs/experiment-distill-ocr
# The shipped ocr student: the table's cnn-mah student, fine-tuned twice 2000 more steps on
# fresh lines at falling rates.
finetune runs/experiment-distill-ocr/cnn-mah/finetune-best.inkm training/finetune-ocr-student.json \
    runs/finetune-ocr-student
finetune runs/finetune-ocr-student/finetune-best.inkm training/finetune-ocr-student-2.json \
    runs/finetune-ocr-student-2
ship runs/finetune-ocr-student-2/finetune-best.inkm assets/models/ocr-student-cpu.inkm
echo "all steps done"
