#!/usr/bin/env bash
# Pretrain the `gpu` preset on a remote GPU box that receives a copy of this working tree and
# collects what it writes under $OUT. Two steps, from the repository root:
#
#   trainer/gpu_run.sh pack    # here, once: build/gpu-carry/shards.tar.xz (~36 MB) from the shards
#   trainer/gpu_run.sh run     # there, with $OUT set and build/gpu-carry carried along
#
# Data. The full shards (105M tokens, 210 MB) and the corpus (150 MB of xz) are both too big
# for a 64 MiB carry, so `pack` keeps an evenly spread 48M-token slice of the shards (256
# runs, each starting at a <bos>, so every source keeps its share; trainer.data.thin_shards)
# and xz-compresses it (0.75 bytes per token). `run` unpacks it in seconds, so no corpus
# reading or vocabulary building happens on the GPU's time. The vocabulary is the shards'.
#
# `run`: torchrun on every GPU present (2 CPU processes when there is none) for $MINUTES of
# training, then `export` twice (int8 and fp32 ONNX, each with fp16 weights.pt), then a
# bundle in $OUT: run.log, history.json, and model.tar split into 15 MiB parts (the int8
# model dir, plus the fp32 model.onnx when everything stays under 60 MiB). Reassemble with
# `cat model.tar.part-* | tar -x`. One device command may run 10 minutes, so the default
# budget is 8 minutes of training plus about a minute of compile, export and bundling.
#
# Environment: TINY=1 switches to the tiny preset for a CPU dry run (e.g. TINY=1
# OUT=/tmp/x trainer/gpu_run.sh run after a TINY=1 pack); MINUTES (training budget, default
# 8; tiny: 0.3); CARRY_TOKENS (pack; default 48000000, tiny 200000); PY (python, default
# python3, or .venv/bin/python when there is one); NPROC (processes; default: the GPUs).
set -euo pipefail
cd "$(dirname "$0")/.."

TINY=${TINY:-0}
if [[ -z "${PY:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
CARRY=build/gpu-carry
if [[ $TINY == 1 ]]; then
    PRESET=tiny MINUTES=${MINUTES:-0.3} CARRY_TOKENS=${CARRY_TOKENS:-200000} EXTRA=(--threads=1 --max_steps=1000000)
else
    PRESET=gpu MINUTES=${MINUTES:-8} CARRY_TOKENS=${CARRY_TOKENS:-48000000} EXTRA=()
fi

pack() {
    local src=${SHARDS:-build/trainer/shards} thin=$CARRY/shards
    [[ -f $src/vocab.txt ]] || { echo "no shards in $src: run '$PY -m trainer prepare' first" >&2; exit 2; }
    rm -rf "$CARRY" && mkdir -p "$thin"
    "$PY" -c "import json, sys; from trainer.data import thin_shards
print(json.dumps(thin_shards(sys.argv[1], sys.argv[2], int(sys.argv[3]))['thinned']))" "$src" "$thin" "$CARRY_TOKENS"
    tar -C "$thin" -cf - . | xz -T0 -6 > "$CARRY/shards.tar.xz"
    rm -rf "$thin"
    ls -l "$CARRY"
}

run() {
    : "${OUT:?set OUT to the folder that collects the outputs}"
    mkdir -p "$OUT"
    exec > >(tee -a "$OUT/run.log") 2>&1
    local t0=$SECONDS work=build/gpu-run shards=build/gpu-run/shards run_dir=build/gpu-run/run
    echo "== $(date -u +%FT%TZ) preset $PRESET, $MINUTES minutes"
    rm -rf "$work" && mkdir -p "$shards"
    xz -dc -T0 "$CARRY/shards.tar.xz" | tar -C "$shards" -xf -
    local nproc=${NPROC:-$("$PY" -c "import torch; print(torch.cuda.device_count())")}
    local what="$nproc GPU(s)"
    if [[ $nproc == 0 ]]; then nproc=2 what="2 CPU processes (gloo)"; fi
    command -v nvidia-smi > /dev/null && nvidia-smi -L || true
    echo "== unpacked in $((SECONDS - t0)) s; training on $what"
    # a hard stop 2 minutes after the budget: SIGTERM makes rank 0 save its checkpoint
    timeout -s TERM "$(awk "BEGIN {print int($MINUTES * 60 + 120)}")" \
        "$PY" -m torch.distributed.run --standalone --nproc_per_node="$nproc" -m trainer train \
        --preset="$PRESET" --run_dir="$run_dir" --shard_dir="$shards" --max_minutes="$MINUTES" "${EXTRA[@]}" \
        || echo "== training stopped early (exit $?); exporting its last checkpoint"
    echo "== trained by $((SECONDS - t0)) s"
    "$PY" -m trainer export --run "$run_dir" --out "$work/model-int8" --int8
    "$PY" -m trainer export --run "$run_dir" --out "$work/model-fp32"
    echo "== exported by $((SECONDS - t0)) s"
    bundle "$work" "$run_dir"
    echo "== done in $((SECONDS - t0)) s"
}

bundle() {  # $OUT: history.json, model.tar.part-* (15 MiB each, 60 MiB in all)
    local work=$1 run_dir=$2 budget=$((60 * 1024 * 1024))
    "$PY" -c "import json, sys, torch; ck = torch.load(sys.argv[1], map_location='cpu', weights_only=False)
print(json.dumps({'state': {k: v for k, v in ck['state'].items()}, 'config': ck['config'],
                  'world_size': ck.get('world_size'), 'device': ck.get('device')}, indent=1))" \
        "$run_dir/ckpt.pt" > "$OUT/history.json"
    local files=(model-int8)
    local with_fp32=$(( $(du -sb "$work/model-int8" | cut -f1) + $(stat -c %s "$work/model-fp32/model.onnx") ))
    if (( with_fp32 < budget )); then
        files+=(model-fp32/model.onnx model-fp32/manifest.json)
    else
        echo "== model-fp32/model.onnx left out of the bundle ($with_fp32 bytes with int8 > $budget);" \
             "its parity with torch is in model-fp32/manifest.json, printed here:"
        "$PY" -c "import json, sys; print(json.dumps(json.load(open(sys.argv[1]))['metrics']['onnx_parity']))" \
            "$work/model-fp32/manifest.json"
    fi
    tar -C "$work" -cf - "${files[@]}" | split -b 15M -a 2 - "$OUT/model.tar.part-"
    ls -l "$OUT"
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) echo "usage: [TINY=1] $0 pack | run" >&2; exit 2 ;;
esac
