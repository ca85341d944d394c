"""Checkpoints: the resumable state of a training run, in a folder named by the run's fingerprint.

The fingerprint hashes what decides the weights a run computes: architecture,
training settings (`settings.TrainConfig.identity`), shards, tokenizer, the
weights it starts from, and the code of the training loop with every module it
imports but those in NOT_WEIGHTS. A rerun with the same fingerprint continues the
run's checkpoint: after a kill, or after a change to code outside that closure
(the job, the plots, the model-folder writer, the memory estimate), it
re-finishes in seconds. Any other fingerprint starts a new folder, including a
change inside the closure that could not alter the weights (the code is hashed,
not its behaviour; tests/test_code_closures.py lists the modules), so a stale
checkpoint is never continued and an earlier run's checkpoints are never lost.

A checkpoint holds everything a killed run needs to continue as if it had not
stopped: weights, optimizer moments, the step (which fixes the schedule and the
data position, since batches are drawn from a per-step seed), RNG states, the
loss history and the model config. It is written to a temporary file and
renamed, so a kill mid-write leaves the previous checkpoint intact, and it is
loaded with `weights_only=True`, so a checkpoint file cannot run code. The
finished model is written elsewhere (`model_folder`).
"""

import hashlib
import json
from pathlib import Path

import torch

from minnow import code_digest
from minnow.atomic import atomic_path
from minnow.digests import sha256_file
from minnow.errors import InputError
from minnow.model.transformer import ModelConfig

FORMAT = 1
# Imported by the training loop but unable to change the weights (the package's version
# string, error text, atomic writes, digests; the memory estimate, which only picks how the
# rank's batch is split, a HOW_NOT_WHAT setting; the precision probe, which picks between
# bf16 and fp32 under `auto`, changing rounding only): a change to them does not start a run over.
NOT_WEIGHTS = frozenset(
    {
        *("minnow", "minnow.train", "minnow.errors", "minnow.atomic", "minnow.digests", "minnow.code_digest"),
        *("minnow.train.memory", "minnow.train.precision"),
    }
)


def weights_code() -> str:
    """Digest of the code that shapes the weights: the training loop and its imports, less NOT_WEIGHTS."""
    return code_digest.module_digest("minnow.train.loop", exclude=NOT_WEIGHTS)


def fingerprint(
    model_cfg: ModelConfig, train_identity: dict, shards: Path, tokenizer_json: Path, init: Path | None = None
) -> str:
    """What makes two training runs the same run: resume only within one fingerprint. A
    fine-tune's init weights are part of it, so a retrained base starts its fine-tunes over."""
    parts = {
        "model": model_cfg.to_dict(),
        "train": train_identity,
        "shards": hashlib.sha256((Path(shards) / "meta.json").read_bytes()).hexdigest(),
        "tokenizer": sha256_file(tokenizer_json),
        "code": weights_code(),
        "init": sha256_file(init) if init else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def save_checkpoint(path: str | Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({**state, "format": FORMAT}, tmp)


def load_checkpoint(path: str | Path, model_cfg: ModelConfig, weights: bool = True) -> dict:
    """A checkpoint's state, refused with a clear message if it is not for this model; without
    its `weights` (model and optimizer state, left empty: the file is mapped, their bytes never
    read), for a rank that receives its shards from rank 0."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=not weights)
    except Exception as e:  # unpickling errors, truncated zip archives, foreign files
        raise InputError(f"{path}: not a readable minnow checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model_config" not in state:
        raise InputError(f"{path}: not a minnow checkpoint (format {FORMAT} expected)")
    theirs, ours = state["model_config"], model_cfg.to_dict()
    if theirs != ours:
        changed = ", ".join(f"{k} {theirs.get(k)} → {v}" for k, v in ours.items() if theirs.get(k) != v)
        raise InputError(
            f"{path}: checkpoint is for another model ({changed}); delete {Path(path).parent} to train from scratch"
        )
    return state if weights else {**state, "model": {}, "optimizer": {}}
