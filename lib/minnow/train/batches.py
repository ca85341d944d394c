"""Training and validation batches drawn from token shards.

The batch for (step, micro-step) comes from a generator seeded by
(seed, step, micro): the data position is the step itself, so a resumed run sees
exactly the batches it would have seen, and every DDP rank draws the same global
batch and reads only its own rows, so any number of ranks that keeps the global
batch's rows sees the same data. Validation batches are drawn once from the seed,
global batches too, so curves of different runs, on any number of ranks, are
measured on the same windows.
"""

from pathlib import Path

import numpy as np
import torch

from minnow.tokens.chat_layout import Layout
from minnow.tokens.shards import TokenShards


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
        layout: Layout,
        rank: int = 0,
        world: int = 1,
    ):
        self.train, self.val = TokenShards(shards, "train"), TokenShards(shards, "val")
        self.context, self.batch_size, self.seed = context, batch_size, seed
        self.answers_only, self.layout, self.rank, self.world = answers_only, layout, rank, world
        rng = np.random.default_rng([seed, 2**31])
        rows = slice(rank * batch_size, (rank + 1) * batch_size)  # this rank's part of each global val batch
        self.val_batches = [
            self._pair(self.val.sample(world * batch_size, context + 1, rng, rows)) for _ in range(eval_batches)
        ]

    def _pair(self, window: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = window[:, :-1], window[:, 1:].copy()
        if self.answers_only:
            y[~self.layout.answer_mask(window)] = -100
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)

    def train_batch(self, step: int, micro: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, micro])
        rows = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        return self._pair(self.train.sample(self.world * self.batch_size, self.context + 1, rng, rows))

    def train_chunks(self, step: int, grad_accum: int, rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's batch of a step, its share of the global batch (grad_accum draws of
        batch_size rows, the same rows whatever the split), cut into forwards of `rows` sequences."""
        if rows == self.batch_size:
            return [self.train_batch(step, micro) for micro in range(grad_accum)]
        x, y = (torch.cat(parts) for parts in zip(*(self.train_batch(step, m) for m in range(grad_accum)), strict=True))
        return list(zip(x.split(rows), y.split(rows), strict=True))
