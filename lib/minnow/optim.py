"""The optimizer and the learning-rate schedule of the train stage.

Two optimizers, chosen by `train.optimizer`:

- `adamw`: AdamW with weight decay on the matrices of linear layers only (never
  embeddings or norm gains, whose scale the decay would only shrink), one fused
  kernel per step on CPU and CUDA.
- `muon`: Muon (Jordan et al., 2024, the optimizer of the modded-nanogpt speedruns)
  for the matrices inside the blocks: momentum whose update is orthogonalised by
  five Newton-Schulz iterations, scaled by sqrt(max(1, rows/cols)); AdamW as above
  for the embedding (the tied head) and the norms, which Muon is not meant for.

Both follow one schedule: linear warmup, then cosine decay to `min_lr` at the last
step, as a factor of each parameter group's own base rate.
"""

import math

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the quintic iteration of Muon's reference code


def lr_at(step: int, cfg) -> float:
    """The learning rate of `step` under `cfg` (a TrainConfig): warmup, then cosine to min_lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg) -> None:
    """Every group at the schedule's fraction of its base rate (`initial_lr`)."""
    scale = lr_at(step, cfg) / cfg.lr
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * scale


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay the matrices of linear layers; never embeddings or norm gains."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and "embed_tokens" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def orthogonalise(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The nearest (semi-)orthogonal matrix to `g`, roughly: Newton-Schulz on its normalised copy."""
    a, b, c = NS_COEFFICIENTS
    x = g / (g.norm() + 1e-7)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        m = x @ x.T
        x = a * x + (b * m + c * m @ m) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Orthogonalised Nesterov momentum for 2-D weights."""

    def __init__(self, params, lr: float, momentum: float = 0.95, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum", torch.zeros_like(p))
                buf.lerp_(p.grad, 1 - group["momentum"])
                update = orthogonalise(p.grad.lerp(buf, group["momentum"]))
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(update, alpha=-group["lr"] * max(1.0, p.size(0) / p.size(1)) ** 0.5)


class Combined:
    """Several optimizers stepped as one, for the loop (their state dicts kept apart)."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers
        self.param_groups = [g for o in optimizers for g in o.param_groups]

    def step(self):
        for o in self.optimizers:
            o.step()

    def zero_grad(self, set_to_none: bool = True):
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state):
        for o, s in zip(self.optimizers, state["optimizers"]):
            o.load_state_dict(s)


def build(model: torch.nn.Module, cfg, fused: bool):
    """The optimizer `cfg.optimizer` names, each group remembering its base rate."""
    adam = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "fused": fused}
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), **adam)
    else:
        hidden = [p for n, p in model.named_parameters() if p.ndim == 2 and "embed_tokens" not in n
                  and "lm_head" not in n]
        rest = [p for n, p in model.named_parameters() if not any(p is h for h in hidden)]
        optimizer = Combined([Muon(hidden, lr=cfg.muon_lr, weight_decay=cfg.weight_decay),
                              torch.optim.AdamW([{"params": rest, "weight_decay": 0.0}], **adam)])
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    return optimizer
