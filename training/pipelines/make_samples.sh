#!/usr/bin/env bash
# Writes the sample lines the program ships with (assets/samples/): six synthetic handwritten
# lines in held-out fonts (fonts no shipped model was trained on) with their transcriptions,
# and a three-line note made of the first three, for line splitting. Needs a release build of
# `engine` and ImageMagick (`convert`). Usage: training/pipelines/make_samples.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=${CARGO_TARGET_DIR:-target}/release/engine
out=assets/samples
rm -rf "$out"
"$engine" synth --task hwr --split valid --count 6 --seed 424242 --out "$out"
lines=("$out"/hwr-424242-00000{0,1,2}.png)
convert "${lines[@]}" -background white -gravity North -splice 0x24 -gravity West -append \
    -bordercolor white -border 24 -strip "$out/note-3-lines.png"
for f in "${lines[@]}"; do cat "${f%.png}.gt.txt"; done >"$out/note-3-lines.gt.txt"
