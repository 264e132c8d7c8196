#!/usr/bin/env bash
# The decoder and end-to-end timings of engine/README.md ("Decoding: a beam search cheaper
# than the network", "Speed: end to end"), on the real pen lines of the UNIPEN contributors
# the hwr recipes hold out for validation (abm bba ceb; the test writers stay for accuracy):
#   1. `engine bench-decode`: CER and decoder / network time, per line, for greedy and beam
#      widths 4-32, pruned (the default) and exact, with the shipped LM;
#   2. `engine bench-e2e`: image file to text, teacher then student taking turns, greedy and
#      beam 16 + shipped LM (and with --int8-lstm);
#   3. the same with beam 16 + shipped LM on each kernel tier this CPU has (INKLING_KERNELS).
#
#   training/tools/bench-decode.sh [TEACHER.inkm STUDENT.inkm]   (default: the shipped hwr pair)
#
# Needs the data cache (training/tools/fetch_unipen.sh). One thread; pause training runs for
# steadier numbers (the ratios are measured line by line, so they hold up to load).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine
teacher=${1:-assets/models/hwr-teacher-cpu.inkm}
student=${2:-assets/models/hwr-student-cpu.inkm}
unipen="${INKLING_DATA:-data}/unipen/train_r01_v07"
[ -d "$unipen" ] || training/tools/fetch_unipen.sh
work="${TMPDIR:-/tmp}/inkling-bench-decode"
rm -rf "$work"
mkdir -p "$work/images"
"$engine" data export "$unipen" --contributors abm,bba,ceb --out "$work/lines" > "$work/export.log"
cp "$work/lines/"*.png "$work/images/"
for m in "$student" "$teacher"; do
    "$engine" bench-decode --model "$m" --data "$work/lines" --lm shipped \
        --widths 4,8,16,32 --prune default --prune exact
    echo
done
"$engine" bench-e2e --models "$teacher,$student" --images "$work/images"
echo
"$engine" bench-e2e --models "$teacher,$student" --images "$work/images" --decoder beam --lm shipped
echo
"$engine" bench-e2e --models "$teacher,$student" --images "$work/images" --decoder beam --lm shipped --int8-lstm
for tier in avx512 avx2 portable; do
    echo
    echo "Kernel tier: $tier"
    INKLING_KERNELS=$tier "$engine" bench-e2e --models "$teacher,$student" --images "$work/images" \
        --decoder beam --lm shipped || echo "(not on this CPU)"
done
