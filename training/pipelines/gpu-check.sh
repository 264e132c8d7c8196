#!/usr/bin/env bash
# A short prepared check for a GPU machine (never needed by the tests): builds the engine with
# Burn's wgpu (or CUDA) backend, trains the scale-out recipe for a few hundred steps on the GPU
# and on the CPU, and prints lines/s of both from the same machine.
#
#   training/pipelines/gpu-check.sh [wgpu|cuda] [steps]     # default: wgpu 200
#
# wgpu is the default: the cuda feature downloads LLVM while building, which a machine that
# reaches only package registries cannot do. On a lent GPU machine, bring the Vulkan loader
# (see the device tool's notes) before running it.
set -euo pipefail
cd "$(dirname "$0")/../.."
device=${1:-wgpu}
steps=${2:-200}
feature=$([ "$device" = wgpu ] && echo gpu || echo cuda)
cargo build --release -p engine --features "$feature"
engine=target/release/engine
out=${OUT:-runs}/gpu-check
rm -rf "$out"
mkdir -p "$out"
# The scale-out recipe, shortened; validation only at the end.
python3 - "$steps" > "$out/recipe.json" <<'PY'
import json, sys
r = json.load(open("training/experiments/scale/ocr.json"))
steps = int(sys.argv[1])
r["schedule"].update(steps=steps, eval_every=steps, checkpoint_every=steps)
r["optimizer"]["warmup_steps"] = steps // 10
print(json.dumps(r))
PY
for d in "$device" cpu; do
    start=$(date +%s.%N)
    "$engine" train --config "$out/recipe.json" --out "$out/$d" --device "$d" > "$out/$d.log" 2>&1
    end=$(date +%s.%N)
    tail -n 1 "$out/$d/metrics.csv" | awk -F, -v d="$d" -v s="$start" -v e="$end" \
        '{ printf "%s: %d steps, %.0f lines, %.1f s training, %.1f lines/s, val CER %.2f%% (wall %.1f s)\n", d, $1, $1 * 16, $7, $1 * 16 / $7, $5, e - s }'
done
