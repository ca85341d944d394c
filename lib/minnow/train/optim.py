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
    """The nearest (semi-)orthogonal matrix to each matrix of `g` (..., rows, cols), roughly:
    Newton-Schulz on its normalised copy, batched over the leading dimensions."""
    a, b, c = NS_COEFFICIENTS
    x = g / (g.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    for _ in range(steps):
        m = x @ x.mT
        x = a * x + (b * m + c * m @ m) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Orthogonalised Nesterov momentum for 2-D weights. Matrices of one shape are
    orthogonalised together in one batched Newton-Schulz: a small model has dozens of
    small matrices, and one matmul per shape instead of per matrix is what makes Muon's
    step affordable on a CPU."""

    def __init__(
        self, params, lr: float, momentum: float = 0.95, weight_decay: float = 0.0, dtype: torch.dtype = torch.float32
    ):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
        self.dtype = dtype  # of the Newton-Schulz matmuls: bf16 halves their cost where bf16 is native

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            bufs = [self.state[p].setdefault("momentum", torch.zeros_like(p)) for p in params]
            torch._foreach_lerp_(bufs, grads, 1 - group["momentum"])
            nesterov = torch._foreach_lerp(grads, bufs, group["momentum"])
            updates = [None] * len(params)
            for shape in {p.shape for p in params}:
                index = [i for i, p in enumerate(params) if p.shape == shape]
                stacked = torch.stack([nesterov[i] for i in index]).to(self.dtype)
                for i, u in zip(index, orthogonalise(stacked).float(), strict=True):
                    updates[i] = u * (-group["lr"] * max(1.0, shape[0] / shape[1]) ** 0.5)
            torch._foreach_mul_(params, 1 - group["lr"] * group["weight_decay"])
            torch._foreach_add_(params, updates)


class MuonWithAdamW:
    """The `muon` optimizer as the loop sees one: Muon for the block matrices and AdamW for
    the rest, stepped, zeroed and saved together (their state dicts kept apart)."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        """Looked up each time: loading a state dict replaces an optimizer's group dicts."""
        return [g for o in self.optimizers for g in o.param_groups]

    def step(self):
        for o in self.optimizers:
            o.step()

    def zero_grad(self, set_to_none: bool = True):
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state):
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


def build(model: torch.nn.Module, cfg, fused: bool, autocast_dtype: torch.dtype | None = None):
    """The optimizer `cfg.optimizer` names, each group remembering its base rate; Muon
    orthogonalises in bf16 where training autocasts to bf16 (as Muon's reference code does)."""
    adam = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "fused": fused}
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), **adam)
    else:
        hidden = [
            p for n, p in model.named_parameters() if p.ndim == 2 and "embed_tokens" not in n and "lm_head" not in n
        ]
        rest = [p for n, p in model.named_parameters() if not any(p is h for h in hidden)]
        optimizer = MuonWithAdamW(
            [
                Muon(
                    hidden,
                    lr=cfg.muon_lr,
                    weight_decay=cfg.weight_decay,
                    dtype=torch.bfloat16 if autocast_dtype == torch.bfloat16 else torch.float32,
                ),
                torch.optim.AdamW([{"params": rest, "weight_decay": 0.0}], **adam),
            ]
        )
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    return optimizer
