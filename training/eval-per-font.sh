#!/usr/bin/env bash
# CER of hwr models per held-out font: 100 synthetic lines in each of the five fonts the hwr
# recipes hold out, one font at a time (the README's "Where the shipped hwr models fail").
#
#   training/eval-per-font.sh [MODEL.inkm ...]   (default: the shipped hwr teacher and student)
#
# Lines go to ${TMPDIR:-/tmp}/inkling-per-font/<font>/ (seed 77, rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(assets/models/hwr-teacher-cpu.inkm assets/models/hwr-student-cpu.inkm)
work="${TMPDIR:-/tmp}/inkling-per-font"
printf '| font |'; for m in "${models[@]}"; do printf ' %s |' "$(basename "$m" .inkm)"; done; echo
printf '|---|'; for _ in "${models[@]}"; do printf -- '---|'; done; echo
for font in IndieFlower-Regular Kalam-Regular Kristi Purisa Satisfy-Regular; do
    dir="$work/$font"
    rm -rf "$dir"
    mkdir -p "$dir/font"
    cp assets/fonts/hwr/"$font".* "$dir/font/"
    "$engine" synth --task hwr --split valid --holdout "$font" --fonts "$dir/font" --count 100 \
        --seed 77 --out "$dir/lines" > /dev/null
    printf '| %s |' "$font"
    for m in "${models[@]}"; do
        cer="$("$engine" eval --model "$m" --data "$dir/lines" --worst 0 | sed -n 's/.*CER \([0-9.]*%\).*/\1/p')"
        printf ' %s |' "$cer"
    done
    echo
done
