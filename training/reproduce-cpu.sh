#!/usr/bin/env bash
# Reproduces every CPU-sized model and table of the README, in order, resumably: run it again
# after any interruption and each step resumes from its last checkpoint (finished steps return
# at once). Run folders go to runs/ (git-ignored). Each step's log: runs/<step>.log.
#
#   nohup training/reproduce-cpu.sh > runs/reproduce.log 2>&1 &
#
# Steps: the hwr teacher (5000 steps), the hwr distillation table (scratch student + 8
# criteria, each distilled then fine-tuned), the ocr teacher (4000 steps), the ocr table.
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
experiment() { # recipe out-folder
    "$engine" experiment distill --config "$1" --out "$2" >> "$2.log" 2>&1
}

train training/teacher-cpu-hwr.json runs/teacher-cpu-hwr
experiment training/experiment-distill-hwr.json runs/experiment-distill-hwr
train training/teacher-cpu-ocr.json runs/teacher-cpu-ocr
experiment training/experiment-distill-ocr.json runs/experiment-distill-ocr
echo "all steps done"
