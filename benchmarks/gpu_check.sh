#!/usr/bin/env bash
# On a CUDA machine, from the repository root: `bash benchmarks/gpu_check.sh`.
# Builds the default corpus's shards for tiny and small (offline, a few minutes), then
# trains each on the GPU with bf16 + torch.compile + fused AdamW, prints tokens/s and
# MFU, and checks the loss against the CPU path at the same seed (benchmarks/gpu_check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
"$BIN/snakemake" results/shards/default/bpe4k/meta.json results/shards/default/bpe32k/meta.json --cores all --quiet rules
PYTHONPATH=lib "$BIN/python" benchmarks/gpu_check.py "$@"
