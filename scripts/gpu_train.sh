#!/usr/bin/env bash
# Train any recipe for a few minutes on a bare GPU machine (torch, numpy, safetensors, pyyaml:
# no PyAV, soundfile or soxr there) and bring its weights back in small files.
#
#   here:   scripts/gpu_train.sh pack RECIPE PACK [pack_training.py pack options]
#             e.g. scripts/gpu_train.sh pack recipes/nsbg_12k.yaml out/gpu_pack --data-mb 40
#           (code + a packed subset of the recipe's cache, at most ~55 MB: carry PACK along)
#   there:  scripts/gpu_train.sh train PACK MINUTES OUT [bandgen train options]
#             e.g. scripts/gpu_train.sh train out/gpu_pack 8 "$OUT" --resume-half
#           trains PACK/recipe.yaml for MINUTES (schedule.max_minutes) in PACK/run, then
#           copies log.jsonl, the JSON files, best.safetensors and the resume file into OUT in
#           files of at most 16 MB, at most 8 of them (pack_training.py shard; join them here
#           with `python scripts/pack_training.py join OUT`).
# BANDGEN_PYTHON picks the interpreter (default python3); BANDGEN_DEVICE=cpu forces the CPU
# (the test suite's dry run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${BANDGEN_PYTHON:-python3}"
cmd="${1:-}"
shift || true
case "$cmd" in
pack)
    exec "$py" "$here/pack_training.py" pack "$@"
    ;;
train)
    pack="$(cd "$1" && pwd)"; minutes="$2"; out="$3"; shift 3
    mkdir -p "$out"; out="$(cd "$out" && pwd)"
    cd "$pack"
    printf 'base: recipe.yaml\nschedule:\n  max_minutes: %s\n' "$minutes" > run.yaml
    if [ "${BANDGEN_DEVICE:-}" = cpu ]; then export CUDA_VISIBLE_DEVICES=""; fi
    status=0
    PYTHONPATH="$pack/code${PYTHONPATH:+:$PYTHONPATH}" "$py" -m bandgen.cli train run.yaml \
        --out run --no-progress "$@" 2>&1 | tee "$out/train.log" || status=$?
    PYTHONPATH="$pack/code${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/pack_training.py" shard run "$out" \
        --max-files 7  # + train.log = 8
    exit "$status"
    ;;
*)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
