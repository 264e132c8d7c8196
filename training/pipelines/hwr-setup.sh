# Sourced by the hwr pipelines (hwr-v4.sh ...): the repository root as working folder, the
# engine built, the UNIPEN data cache filled, and the helpers of every step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mkdir -p runs assets/models/staging
[ -x target/release/engine ] || cargo build --release -p engine
# A copy of the engine, so that rebuilding during a long pipeline does not change its later steps.
engine=runs/pipeline-engine-$$
cp target/release/engine "$engine"
trap 'rm -f "$engine"' EXIT
[ -d "${INKLING_DATA:-data}/unipen/train_r01_v07" ] || training/tools/fetch_unipen.sh
staging=assets/models/staging
# `--resume` when the run folder already holds a run.
resume() { [ -f "$1/config.json" ] && echo --resume || true; }
# Stages a run's best model: run folder, file name in assets/models/staging/.
stage() {
    cp "$1/finetune-best.inkm" "$staging/$2"
    echo "staged $staging/$2"
}
# Fine-tunes a model with a recipe in a run folder and stages the best model, unless that file
# is staged already (an interrupted run resumes from its checkpoint):
#   finetune_staged NAME MODEL RECIPE RUN_FOLDER
finetune_staged() {
    [ -f "$staging/$1" ] && return 0
    "$engine" finetune --model "$2" --config "$3" --out "$4" $(resume "$4")
    stage "$4" "$1"
}
