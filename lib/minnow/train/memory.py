"""How much memory a training step takes, and the micro-batch that fits a card.

`train.micro_batch: auto` keeps a rank's batch (batch_size x grad_accum
sequences per GPU) and splits it into the largest micro-batches that fit the GPU,
accumulating gradients over the rest: the same recipe trains on a 24 GB card and
an 80 GB one, only the split differs. The split is chosen from an estimate, not by
trying steps until one fails, so it is the same on every run and can be checked on
a laptop against a memory budget (tests/train/test_memory.py).

The estimate: 16 bytes per parameter (fp32 weights and gradients, AdamW's two
moments), plus per token of the micro-batch what the backward pass keeps: about
16 bytes per model width and 7 per feed-forward width in each layer (bf16
activations, the fp32 residual stream and RMSNorm inputs), and 12 per vocabulary
entry for the logits (bf16, their fp32 copy for the loss, its gradient). With
activation checkpointing a layer keeps only its fp32 input, and one layer's
activations live at a time during the backward pass. Against peaks measured on an
H200 with bf16 and torch.compile (small: 6.9 GB at 32 x 512 tokens; medium: 25.4 GB
at 16 x 1024) it reads 5-25% high: high on purpose, as eager mode keeps more.
"""

from dataclasses import asdict

import torch

from minnow.errors import InputError
from minnow.model import param_count
from minnow.model.transformer import ModelConfig
from minnow.train.settings import TrainConfig, micro_batch_error

STATE_BYTES_PER_PARAM = 16
LAYER_BYTES_PER_WIDTH, LAYER_BYTES_PER_FFN, LOGIT_BYTES = 16, 7, 12
CHECKPOINTED_BYTES_PER_WIDTH = 4  # a checkpointed layer's saved input: the fp32 residual stream
USABLE_FRACTION = 0.9  # of a card's memory: the CUDA context, allocator fragmentation and NCCL buffers take the rest


def parameters(cfg: ModelConfig) -> int:
    """Weights of a model of this shape (a tied head counted once), as `Transformer.num_params`."""
    return param_count.parameters(cfg.vocab_size, cfg.to_dict())


def step_bytes(cfg: ModelConfig, rows: int, checkpointing: bool = False, shards: int = 1, weight_bytes: int = 4) -> int:
    """Estimated peak bytes of one training step on `rows` sequences of the full context, on
    one of `shards` ranks that shard weights, gradients and optimizer state (FSDP)."""
    layer = LAYER_BYTES_PER_WIDTH * cfg.d_model + LAYER_BYTES_PER_FFN * cfg.ffn_dim
    saved = CHECKPOINTED_BYTES_PER_WIDTH * cfg.d_model if checkpointing else layer
    kept = cfg.n_layers * saved + (layer if checkpointing else 0)  # + the one block recomputed at a time
    tokens = rows * cfg.context
    state = STATE_BYTES_PER_PARAM * parameters(cfg) // shards
    return state + gathered_bytes(cfg, shards, weight_bytes) + tokens * (kept + LOGIT_BYTES * cfg.vocab_size)


def gathered_bytes(cfg: ModelConfig, shards: int, weight_bytes: int) -> int:
    """What a rank of `shards` (FSDP) holds whole besides its shards: two blocks (the one
    computing, the one prefetched) and the root unit (embedding, final norm, an untied head),
    which FSDP keeps gathered from forward to backward; `weight_bytes` a weight, the dtype
    the run gathers in (2 in a bf16 run, 4 in fp32: parallel.wrap's MixedPrecisionPolicy)."""
    if shards == 1:
        return 0
    root = cfg.vocab_size * cfg.d_model * (1 if cfg.tie_embeddings else 2) + cfg.d_model
    block = (parameters(cfg) - root) // cfg.n_layers
    return weight_bytes * (2 * block + root)


def fit_micro_batch(
    cfg: ModelConfig, rank_rows: int, budget: int, checkpointing: bool = False, shards: int = 1, weight_bytes: int = 4
) -> int:
    """The largest divisor of `rank_rows` (a rank's batch) whose step fits `budget` bytes on a
    rank of `shards` (FSDP); stops with what to change where even one sequence does not fit."""
    for rows in sorted((d for d in range(1, rank_rows + 1) if rank_rows % d == 0), reverse=True):
        if step_bytes(cfg, rows, checkpointing, shards, weight_bytes) <= budget:
            return rows
    need = step_bytes(cfg, 1, checkpointing, shards, weight_bytes) / 2**30
    hint = "" if checkpointing else "turn on train.activation_checkpointing, or "
    hint += "shard it over more GPUs (train.parallel: fsdp), or " if shards == 1 else ""
    raise InputError(
        f"train.micro_batch auto: one sequence of {cfg.context} tokens needs about {need:.1f} GiB, more than "
        f"the {budget / 2**30:.1f} GiB usable here; {hint}use a smaller model or context"
    )


def budget_bytes(device: torch.device) -> int | None:
    """The memory a step may use on `device`, or None where it is not known (CPU, MPS: the
    configured batch_size is kept there)."""
    if device.type != "cuda":
        return None
    return int(torch.cuda.get_device_properties(device).total_memory * USABLE_FRACTION)


def micro_batch(train: TrainConfig, rows_fit) -> int:
    """Rows per forward: batch_size (micro_batch unset), the setting itself, or for `auto`
    `rows_fit(rank_rows)` (None where no budget is known: batch_size again)."""
    if train.micro_batch is None:
        return train.batch_size
    if train.micro_batch == "auto":
        return rows_fit(train.rank_rows) or train.batch_size
    if error := micro_batch_error(asdict(train)):
        raise InputError(error)
    return train.micro_batch


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """This process's peak memory so far, and what was measured: the CUDA allocator's peak on
    a GPU, else the process's peak resident set (which includes Python and the data)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"
