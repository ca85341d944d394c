"""The optimizer and the learning-rate schedule of the train stage.

AdamW with weight decay on the matrices of linear layers only (never embeddings
or norm gains, whose scale the decay would only shrink), fused into one kernel
on CUDA; linear warmup, then cosine decay to `min_lr` at the last step.
"""

import math

import torch


def lr_at(step: int, cfg) -> float:
    """The learning rate of `step` under `cfg` (a TrainConfig): warmup, then cosine to min_lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay the matrices of linear layers; never embeddings or norm gains."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and "embed_tokens" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(model: torch.nn.Module, cfg, fused: bool) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             fused=fused)
