#!/usr/bin/env bash
# CER / WER of hwr models on real pen lines of UNIPEN contributors that no recipe trains on,
# per contributor and pooled: the single text lines (category 8) drawn with the canvas's pen
# (`engine data export`). Needs the data cache (training/tools/fetch_unipen.sh).
#
#   training/tools/eval-unipen.sh [MODEL.inkm ...]   (default: the shipped hwr teacher and student)
#
# SET=test (default: apd ape bbb cea pri) or SET=valid (abm bba ceb), the contributors the hwr
# recipes hold out; CONTRIBUTORS="a b" for others. Decoder options for `engine eval` go in
# $DECODE, e.g. the app's default decoder: DECODE="--decoder beam --lm shipped".
# Lines go to ${TMPDIR:-/tmp}/inkling-eval-unipen/ (rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(assets/models/hwr-teacher-cpu.inkm assets/models/hwr-student-cpu.inkm)
case "${SET:-test}" in
    test) default="apd ape bbb cea pri" ;;
    valid) default="abm bba ceb" ;;
    *) echo "SET must be test or valid" >&2; exit 2 ;;
esac
read -r -a contributors <<< "${CONTRIBUTORS:-$default}"
unipen="${INKLING_DATA:-data}/unipen/train_r01_v07"
[ -d "$unipen" ] || training/tools/fetch_unipen.sh
work="${TMPDIR:-/tmp}/inkling-eval-unipen"
rm -rf "$work"
mkdir -p "$work"
all=$(IFS=,; echo "${contributors[*]}")
"$engine" data export "$unipen" --contributors "$all" --out "$work/all" > "$work/export.log"
for c in "${contributors[@]}"; do
    mkdir -p "$work/$c"
    ln -s "$work/all/$c-"* "$work/$c/"
done
score() { # model folder -> "CER / WER"
    "$engine" eval --model "$1" --data "$2" --worst 0 ${DECODE:-} 2>/dev/null |
        sed -nE 's/.*CER ([0-9.]+)%  WER ([0-9.]+)%.*/\1 \/ \2/p'
}
printf '| contributor | lines |'
for m in "${models[@]}"; do printf ' %s |' "$(basename "$m" .inkm)"; done
printf '\n|---|---|'
for _ in "${models[@]}"; do printf -- '---|'; done
printf '\n'
for c in "${contributors[@]}" all; do
    n=$(find "$work/$c/" -name '*.gt.txt' | wc -l)
    printf '| %s | %s |' "$c" "$n"
    for m in "${models[@]}"; do printf ' %s |' "$(score "$m" "$work/$c")"; done
    printf '\n'
done
