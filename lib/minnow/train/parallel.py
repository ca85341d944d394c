"""How a run spreads over ranks: DDP (every rank holds the whole model) or FSDP2 (each holds a shard).

`train.parallel: ddp` replicates weights, gradients and optimizer state on every
rank and averages gradients; `fsdp` shards all three with PyTorch's FSDP2
(`fully_shard`, one unit per block and one for the rest), computing in bf16 from
fp32 master weights where the run uses bf16. Both average gradients over ranks,
so the loop weights each forward's loss by its share of the *global* batch's
counted targets and the step is the same token mean on any number of ranks.

An FSDP run's checkpoints hold the full (unsharded) model and optimizer state,
keyed by parameter name (`torch.distributed.checkpoint.state_dict`): a run
resumes on another number of ranks, or in one process, and the finished
model.safetensors is the single file every other stage reads.
"""

import contextlib

import torch
import torch.distributed as dist

FULL = {"full_state_dict": True, "cpu_offload": True}


def wrap(model, parallel: str, world: int, device: torch.device, dtype: torch.dtype | None):
    """The module the loop calls: DDP or FSDP2 across `world` ranks, the model itself alone."""
    if world == 1:
        return model
    if parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
        for block in model.model.layers:
            fully_shard(block, mp_policy=policy)
        return fully_shard(model, mp_policy=policy)
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def gradient_sync(forward, sync: bool):
    """Skip the gradient reduction on all but a step's last forward (DDP's no_sync, FSDP2's flag)."""
    if hasattr(forward, "set_requires_gradient_sync"):
        forward.set_requires_gradient_sync(sync)
        return contextlib.nullcontext()
    if sync or not hasattr(forward, "no_sync"):
        return contextlib.nullcontext()
    return forward.no_sync()


def global_count(count: int, device: torch.device, world: int) -> int | torch.Tensor:
    """The global batch's counted targets (at least 1), summed over ranks: across ranks a tensor
    left on the device, so the step never waits for the collective (nor the work queued before it)."""
    if world == 1:
        return max(count, 1)
    total = torch.tensor(float(count), device=device)
    dist.all_reduce(total)
    return total.clamp(min=1)


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """A plain tensor of a value FSDP may hand back as a DTensor (the clipped grad norm): its
    full value, gathered from the ranks' shards."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def full_state(model, optimizer) -> tuple[dict, dict]:
    """The whole model and optimizer state on rank 0's CPU, by parameter name (a collective
    under FSDP; the other ranks get empty dicts)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    return get_state_dict(model, optimizer, options=StateDictOptions(**FULL))


def full_model_state(model) -> dict:
    """The whole model's weights on rank 0's CPU (a collective under FSDP), without the
    optimizer state a checkpoint also gathers."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(**FULL))


def load_full_state(model, optimizer, model_state: dict, optimizer_state: dict, from_rank0: bool) -> None:
    """Put a full state (saved from any number of ranks) into this run's model and optimizer.
    Across ranks (`from_rank0`) only rank 0 holds it and sends each tensor to the ranks that
    shard it, so a run resumed on N ranks holds its checkpoint in host memory once, not N times
    (model and optimizer set apart: with an empty model state, set_state_dict skips the model)."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=from_rank0)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)


def peak_memory_per_rank(peak_mb: float, world: int) -> list[float]:
    """Every rank's peak memory, gathered (rank 0's alone in one process)."""
    if world == 1:
        return [peak_mb]
    peaks = [None] * world
    dist.all_gather_object(peaks, peak_mb)
    return peaks
