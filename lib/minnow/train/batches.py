"""Training and validation batches drawn from token shards.

The batch for (step, micro-step) comes from a generator seeded by
(seed, step, micro): the data position is the step itself, so a resumed run sees
exactly the batches it would have seen, and every DDP rank draws the same global
batch and reads only its own rows. Validation batches are drawn once from the
seed, so curves of different runs are measured on the same windows.
"""

from pathlib import Path

import numpy as np
import torch

from minnow.shards import TokenShards


def answer_mask(window: np.ndarray, marker: dict[str, int]) -> np.ndarray:
    """Which targets (window[:, 1:]) are assistant answers, from the ids alone.

    A target is an answer when the last role marker at or before its input is
    <|assistant|>; its closing <|end|> counts (the model must learn to stop).
    Targets before the window's first marker are of unknown role and excluded.
    """
    roles = [marker[n] for n in ("system", "user", "assistant", "end", "eos")]
    positions = np.where(np.isin(window, roles), np.arange(window.shape[1]), -1)
    last = np.maximum.accumulate(positions, axis=1)
    last_token = np.where(last >= 0, np.take_along_axis(window, np.maximum(last, 0), axis=1), -1)
    starts_turn = np.isin(window[:, 1:], [marker["system"], marker["user"], marker["assistant"], marker["eos"]])
    return (last_token[:, :-1] == marker["assistant"]) & ~starts_turn


class Batches:
    """Train batches by (step, micro-step) and fixed validation batches, as (x, y) tensors."""

    def __init__(
        self,
        shards: Path,
        context: int,
        batch_size: int,
        seed: int,
        eval_batches: int,
        answers_only: bool,
        marker: dict[str, int],
        rank: int = 0,
        world: int = 1,
    ):
        self.train, self.val = TokenShards(shards, "train"), TokenShards(shards, "val")
        self.context, self.batch_size, self.seed = context, batch_size, seed
        self.answers_only, self.marker, self.rank, self.world = answers_only, marker, rank, world
        rng = np.random.default_rng([seed, 2**31])
        self.val_batches = [self._pair(self.val.sample(batch_size, context + 1, rng)) for _ in range(eval_batches)]

    def _pair(self, window: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = window[:, :-1], window[:, 1:].copy()
        if self.answers_only:
            y[~answer_mask(window, self.marker)] = -100
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)

    def train_batch(self, step: int, micro: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, micro])
        rows = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        return self._pair(self.train.sample(self.world * self.batch_size, self.context + 1, rng, rows))

    def train_chunks(self, step: int, grad_accum: int, rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's global batch of a step (its grad_accum draws of batch_size rows, the
        same rows whatever the split), cut into forwards of `rows` sequences each."""
        if rows == self.batch_size:
            return [self.train_batch(step, micro) for micro in range(grad_accum)]
        x, y = (torch.cat(parts) for parts in zip(*(self.train_batch(step, m) for m in range(grad_accum)), strict=True))
        return list(zip(x.split(rows), y.split(rows), strict=True))
