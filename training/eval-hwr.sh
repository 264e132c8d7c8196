#!/usr/bin/env bash
# CER / WER of hwr models on the three test sets of the README's hwr results and
# assets/models/MODELS.md, none of them seen in training:
#   fonts   300 lines in the 5 held-out handwriting fonts (engine synth --split valid --seed 777)
#   strokes 200 lines in the 2 held-out pen-stroke fonts (--strokes 1 --seed 77)
#   digits  200 lines composed of the reserved halves of the MNIST digits (--digits 1 --seed 77)
#
#   training/eval-hwr.sh [MODEL.inkm ...]   (default: the shipped hwr teacher and student)
#
# Lines go to ${TMPDIR:-/tmp}/inkling-eval-hwr/ (rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(assets/models/hwr-teacher-cpu.inkm assets/models/hwr-student-cpu.inkm)
work="${TMPDIR:-/tmp}/inkling-eval-hwr"
rm -rf "$work"
mkdir -p "$work"
python3 training/fetch_digits.py --eval "$work/digit-bank" > /dev/null
"$engine" synth --task hwr --split valid --count 300 --seed 777 --out "$work/fonts" > /dev/null
"$engine" synth --task hwr --split valid --strokes 1 --count 200 --seed 77 --out "$work/strokes" > /dev/null
"$engine" synth --task hwr --split valid --digits 1 --digit-bank "$work/digit-bank" --count 200 \
    --seed 77 --out "$work/digits" > /dev/null
printf '| test set |'
for m in "${models[@]}"; do name="${m#assets/models/}"; printf ' %s |' "${name%.inkm}"; done
echo
printf '|---|'; for _ in "${models[@]}"; do printf -- '---|'; done; echo
for set in fonts strokes digits; do
    printf '| %s |' "$set"
    for m in "${models[@]}"; do
        rates="$("$engine" eval --model "$m" --data "$work/$set" --worst 0 |
            sed -n 's/.*CER \([0-9.]*\)%  WER \([0-9.]*\)%.*/\1 \/ \2/p')"
        printf ' %s |' "$rates"
    done
    echo
done
