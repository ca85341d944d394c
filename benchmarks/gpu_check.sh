#!/usr/bin/env bash
# On a CUDA machine, from the repository root: `bash benchmarks/gpu_check.sh [gpu_check.py options]`.
# Sized for about 5 minutes on one H100/H200 with 16 cores (not yet timed): builds the default
# corpus's shards (the presets train on them), then benchmarks/gpu_check.py prints each row as soon
# as it has it and ends with a table and results/gpu_check.json. On a node with no package index,
# install minnow from a wheelhouse first (docs/CLUSTERS.md: "Installing on a node with no package index").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
start=$(date +%s)
"$BIN/snakemake" results/shards/default/bpe4k/meta.json results/shards/default/bpe32k/meta.json --cores all --quiet rules
echo "shards ready in $(($(date +%s) - start)) s"
PYTHONPATH=lib "$BIN/python" benchmarks/gpu_check.py "$@"
