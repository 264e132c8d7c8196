#!/usr/bin/env bash
# Writer adaptation measured: UNIPEN writers of the test contributors (apd ape bbb cea pri,
# which no recipe trains on) as simulated users. `engine data writers` writes each writer's
# single text lines and their words laid out three to a line; every writer with at least 25
# lines adapts the model with `engine adapt` on 20 of them (spread over the writer's lines) and
# is tested on the rest, before and after, with the app's decoder (beam 16 + shipped LM).
# Guard: the base test sets read by the adapted model (greedy): the test contributors' real
# lines without the writer's own, and 300 lines of the held-out handwriting fonts.
#
#   training/tools/eval-adapt.sh [MODEL.inkm]     (default: the shipped hwr student)
#
# WRITERS=N: only every k-th writer, N in all (a quick comparison); ONLY="w1 w2": only those
# writers (by folder name, e.g. to finish an interrupted comparison); options for `engine adapt`
# go in $ADAPT (e.g. ADAPT="--replay none"); LM=FILE decodes with another LM than the shipped
# one (e.g. to finish a table begun before the LM changed). One row per writer, then the medians. Work
# folder: ${TMPDIR:-/tmp}/inkling-eval-adapt/ (rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
model="${1:-assets/models/hwr-student-cpu.inkm}"
unipen="${INKLING_DATA:-data}/unipen/train_r01_v07"
[ -d "$unipen" ] || training/tools/fetch_unipen.sh
work="${TMPDIR:-/tmp}/inkling-eval-adapt"
rm -rf "$work"
mkdir -p "$work"
# Copies of the engine and the model, so that a rebuild or a newly shipped model during the
# (long) run changes nothing under it.
cp "$engine" "$work/engine"
engine="$work/engine"
cp "$model" "$work/base.inkm"
shown="$model"
model="$work/base.inkm"
contributors=apd,ape,bbb,cea,pri
"$engine" data writers "$unipen" --contributors "$contributors" --min-lines 25 \
    --out "$work/writers" > "$work/writers.log"
"$engine" data export "$unipen" --contributors "$contributors" --out "$work/unipen" > /dev/null
"$engine" synth --task hwr --split valid --count 300 --seed 777 --out "$work/fonts" > /dev/null
mapfile -t writers < <(find "$work/writers" -mindepth 1 -maxdepth 1 -type d | sort)
if [ -n "${WRITERS:-}" ]; then
    step=$(( ${#writers[@]} / WRITERS )); [ "$step" -ge 1 ] || step=1
    picked=()
    for ((i = 0; i < ${#writers[@]} && ${#picked[@]} < WRITERS; i += step)); do
        picked+=("${writers[$i]}")
    done
    writers=("${picked[@]}")
fi
if [ -n "${ONLY:-}" ]; then
    picked=()
    for w in $ONLY; do picked+=("$work/writers/$w"); done
    writers=("${picked[@]}")
fi
cer() { # model folder -> CER (greedy)
    "$engine" eval --model "$1" --data "$2" --worst 0 | sed -nE 's/.*CER ([0-9.]+)%.*/\1/p'
}
fonts_before=$(cer "$model" "$work/fonts")
echo "model $shown; adapt options: ${ADAPT:-(defaults)}; LM ${LM:-shipped}; ${#writers[@]} writers"
echo
echo "| writer | lines | CER before | CER after | relative | adapt s | others' lines, greedy | held-out fonts, greedy |"
echo "|---|---|---|---|---|---|---|---|"
for dir in "${writers[@]}"; do
    w=$(basename "$dir")
    n=$(find "$dir" -name '*.gt.txt' | wc -l)
    # The base test lines of everyone but this writer.
    others="$work/others-$w"
    mkdir -p "$others"
    for f in "$work/unipen"/*; do
        case "$(basename "$f")" in "$w"-*) ;; *) ln -s "$f" "$others/" ;; esac
    done
    start=$(date +%s)
    # shellcheck disable=SC2086 # $ADAPT is a list of options
    "$engine" adapt --model "$model" --data "$dir" --holdout $((n - 20)) --out "$work/$w.inkm" \
        --run "$work/run-$w" --decoder beam --lm "${LM:-shipped}" --json ${ADAPT:-} \
        > "$work/$w.json" 2> "$work/$w.log"
    seconds=$(( $(date +%s) - start ))
    read -r before after < <(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['before']['cer'], r['after']['cer'])" "$work/$w.json")
    printf '| %s | %d | %.2f | %.2f | %+.0f%% | %.0f | %s -> %s | %s -> %s |\n' "$w" "$n" "$before" "$after" \
        "$(awk -v a="$after" -v b="$before" 'BEGIN { print (b > 0 ? 100 * (a - b) / b : 0) }')" "$seconds" \
        "$(cer "$model" "$others")" "$(cer "$work/$w.inkm" "$others")" \
        "$fonts_before" "$(cer "$work/$w.inkm" "$work/fonts")"
    rm -rf "$work/run-$w" "$others"
done | tee "$work/table.md"
python3 - "$work/table.md" <<'EOF'
import statistics, sys
rows = [l.split("|")[1:-1] for l in open(sys.argv[1]) if l.startswith("| ") and not l.startswith("| writer")]
rel = [-(float(r[2]) - float(r[3])) / float(r[2]) * 100 for r in rows]
secs = [float(r[5]) for r in rows]
others = [float(r[6].split("->")[1]) - float(r[6].split("->")[0]) for r in rows]
fonts = [float(r[7].split("->")[1]) - float(r[7].split("->")[0]) for r in rows]
print()
print(f"{len(rows)} writers: median relative CER change {statistics.median(rel):+.1f}% "
      f"(improved: {sum(x < 0 for x in rel)}), median {statistics.median(secs):.0f} s per adaptation; "
      f"guard, median change: others' lines {statistics.median(others):+.2f} points "
      f"(worst {max(others):+.2f}), held-out fonts {statistics.median(fonts):+.2f} (worst {max(fonts):+.2f})")
EOF
