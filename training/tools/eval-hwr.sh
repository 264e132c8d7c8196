#!/usr/bin/env bash
# CER / WER of hwr models on the test sets of the hwr results in training/README.md and
# assets/models/MODELS.md, none of them seen in training:
#   fonts   300 lines in the 5 held-out handwriting fonts (engine synth --split valid --seed 777)
#   strokes 200 lines in the 2 held-out pen-stroke fonts (--strokes 1 --seed 77)
#   digits  200 lines composed of the reserved halves of the MNIST digits (--digits 1 --seed 77)
#   font: F 100 lines in each held-out font alone (seed 77; "Where the shipped hwr models fail")
#
#   training/tools/eval-hwr.sh [MODEL.inkm ...]   (default: the shipped hwr teacher and student)
#
# Decoder options for `engine eval` go in $DECODE, e.g. the app's default decoder:
#   DECODE="--decoder beam --lm shipped" training/tools/eval-hwr.sh
#
# Lines go to ${TMPDIR:-/tmp}/inkling-eval-hwr/ (rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(assets/models/hwr-teacher-cpu.inkm assets/models/hwr-student-cpu.inkm)
work="${TMPDIR:-/tmp}/inkling-eval-hwr"
rm -rf "$work"
mkdir -p "$work"
python3 training/tools/fetch_digits.py --eval "$work/digit-bank" > /dev/null
synth() { # out-folder synth-options...
    local out="$1"
    shift
    "$engine" synth --task hwr --split valid "$@" --out "$work/$out" > /dev/null
}
synth fonts --count 300 --seed 777
synth strokes --strokes 1 --count 200 --seed 77
synth digits --digits 1 --digit-bank "$work/digit-bank" --count 200 --seed 77
sets=(fonts strokes digits)
for font in IndieFlower-Regular Kalam-Regular Kristi Purisa Satisfy-Regular; do
    mkdir -p "$work/font-$font/files"
    cp assets/fonts/hwr/"$font".* "$work/font-$font/files/"
    synth "font-$font/lines" --holdout "$font" --fonts "$work/font-$font/files" --count 100 --seed 77
    sets+=("font-$font/lines")
done
printf '| test set |'
for m in "${models[@]}"; do name="${m#assets/models/}"; printf ' %s |' "${name%.inkm}"; done
echo
printf '|---|'; for _ in "${models[@]}"; do printf -- '---|'; done; echo
for set in "${sets[@]}"; do
    label="${set%/lines}"
    printf '| %s |' "${label/font-/font: }"
    for m in "${models[@]}"; do
        # shellcheck disable=SC2086 # $DECODE is a list of options
        rates="$("$engine" eval --model "$m" --data "$work/$set" --worst 0 ${DECODE:-} |
            sed -n 's/.*CER \([0-9.]*\)%  WER \([0-9.]*\)%.*/\1 \/ \2/p')"
        printf ' %s |' "$rates"
    done
    echo
done
