#!/usr/bin/env bash
# Training throughput on one GPU: Megatron-Core (training.train, bf16) on blended shards and on synthetic tokens,
# next to a plain PyTorch GPT of the same shape under torch.compile; tokens/s and MFU side by side.
#
#   bash bench/train_gpu.sh                      # 124m (L12 d768 T1024) and 1.3b (L24 d2048 T2048), 30 steps each
#   bash bench/train_gpu.sh --shapes 1.3b        # one shape (each run is a process of its own)
#   bash bench/train_gpu.sh --smoke              # tiny shapes, 6 steps on the GPU (no GPU: says so, exits 0)
#   bash bench/train_gpu.sh --smoke --cpu        # CPU, fp32, gloo, tiny shapes: checks the bench end to end
#   SMOKE=1 bash bench/train_gpu.sh              # the same as --smoke
#
# Every other option goes to `python -m bench.train_gpu` (--help). PYTHON picks the interpreter: default the repository's
# .venv, else python3 (the GPU machine's image, with megatron-core carried as wheels on PYTHONPATH).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi

smoke=0
for arg in "$@"; do
    [[ "$arg" == "--smoke" ]] && smoke=1
done
if [[ "${SMOKE:-0}" == "1" && $smoke == 0 ]]; then
    smoke=1
    set -- --smoke "$@"
fi

if [[ $smoke == 0 ]]; then
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "train_gpu.sh: no GPU (nvidia-smi missing or failing); for the CPU check run: bash bench/train_gpu.sh --smoke --cpu" >&2
        exit 2
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader >&2
fi

cd "$ROOT"
# a module from the repository root: bench.train_gpu imports bench._common, and its runs training.train
exec "$PYTHON" -m bench.train_gpu "$@"
