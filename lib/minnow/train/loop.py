"""The train stage: a resumable, mixed-precision training loop for `model.transformer.Transformer`.

AdamW (fused, on CPU too) or Muon and the schedule (`optim`), gradient accumulation
and clipping; bf16 autocast on CUDA (fp16 with a GradScaler where bf16 is missing)
and on CPUs where bf16 is the faster, timed (`precision`), fp32 elsewhere unless
configured; optional `torch.compile`; DDP or FSDP2 when launched by torchrun (`parallel`).

Checkpoints live in a folder named by the run's fingerprint (`checkpoint`): the
settings, data and init weights a run reads, and the code of this module and
every module it imports but `checkpoint.NOT_WEIGHTS`. A rerun with the same
fingerprint resumes: after a kill, or after a change to code the loop does not
import (the job, plots, the model-folder writer, the memory estimate). Any other
change starts over in a new folder, even one that cannot alter the weights (a
reworded progress bar here): the fingerprint hashes code, not behaviour
(tests/test_code_closures.py lists the modules it covers).

Metrics go to a callback (`on_metrics(step, dict)`) that defaults to doing
nothing, so tests run without MLflow. Writing the model folder, the loss curve
and the summary are `job`'s work.
"""

import contextlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from minnow import devices
from minnow.errors import InputError
from minnow.model.transformer import ModelConfig, Transformer
from minnow.tokens import chat_layout, tokenizer
from minnow.train import checkpoint, memory, optim, parallel, precision
from minnow.train.batches import Batches
from minnow.train.settings import TrainConfig
from minnow.train.start import require_init, start_from

log = logging.getLogger(__name__)


class Trainer:
    """One training run; `run()` trains from scratch or from the run's last checkpoint."""

    def __init__(
        self,
        model_cfg: ModelConfig,
        cfg: TrainConfig,
        shards: Path,
        tokenizer_json: Path,
        checkpoints: Path,
        on_metrics=None,
        threads: int | None = None,
        init: Path | None = None,
    ):
        self.model_cfg, self.cfg = model_cfg, cfg
        self.on_metrics = on_metrics or (lambda step, metrics: None)
        self.rank, self.world = devices.rank_and_world()
        self.device = devices.pick_device(cfg.device)
        if self.device.type == "cpu":
            devices.tune_cpu(threads)
        devices.allow_tf32(cfg.precision)
        self.dtype = devices.autocast_dtype(self.device, cfg.precision)
        self.layout = read_layout(tokenizer_json, model_cfg.vocab_size)
        if init:
            require_init(init)
        self.run_dir = Path(checkpoints) / checkpoint.fingerprint(
            model_cfg, cfg.identity(), shards, tokenizer_json, init
        )
        self.batches = Batches(
            *(Path(shards), model_cfg.context, cfg.batch_size, cfg.seed, cfg.eval_batches),
            *(cfg.loss_on == "answers", self.layout, self.rank, self.world),
        )
        self.model = self._build_model(init)
        self.rows = memory.micro_batch(cfg, self._fit)
        self.dtype, self.precision_probe = precision.resolve(
            self.model, self.rows, self.device, cfg.precision, self.world
        )
        self.flops_per_step = self.tokens_per_step * self.model.flops_per_token()  # counted once, off the hot path
        self.forward = self._wrap(self.model)  # before the optimizer: FSDP replaces the parameters with shards
        self.optimizer = optim.build(self.model, cfg, self.device.type in ("cpu", "cuda"), autocast_dtype=self.dtype)
        self.scaler = torch.amp.GradScaler(enabled=self.dtype == torch.float16)
        self.step, self.best_val, self.history = 0, math.inf, {"train": [], "val": []}

    def _build_model(self, init: Path | None) -> Transformer:
        """The model on the device, seeded, from `init`'s weights where given."""
        torch.manual_seed(self.cfg.seed)
        model = Transformer(self.model_cfg)
        if init:
            start_from(model, init)
        model.model.embed_tokens.weight.requires_grad_(not self.cfg.freeze_embeddings)
        model = model.to(self.device)
        model.checkpointing = self.cfg.activation_checkpointing
        return model

    def _fit(self, rank_rows: int) -> int | None:
        """micro_batch auto: the largest split of a rank's batch this device holds."""
        budget = memory.budget_bytes(self.device)
        if budget is None:
            return None
        shards = self.world if self.cfg.parallel == "fsdp" else 1
        weight_bytes = 4 if self.dtype is None else 2  # what FSDP gathers weights in
        checkpointing = self.cfg.activation_checkpointing
        return memory.fit_micro_batch(self.model_cfg, rank_rows, budget, checkpointing, shards, weight_bytes)

    @property
    def tokens_per_step(self) -> int:
        return self.world * self.cfg.batch_size * self.cfg.grad_accum * self.model_cfg.context

    def _wrap(self, model):
        model = parallel.wrap(model, self.cfg.parallel, self.world, self.device, self.dtype)
        return torch.compile(model) if self.cfg.compile else model

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    # --- checkpoints ----------------------------------------------------------------------

    def _weights(self) -> tuple[dict, dict]:
        """Model and optimizer state as a checkpoint holds them: whole, by parameter name
        under FSDP (gathered from every rank's shard), as the modules give them otherwise."""
        if self.cfg.parallel == "fsdp":
            return parallel.full_state(self.model, self.optimizer)
        return self.model.state_dict(), self.optimizer.state_dict()

    def _state(self, model_state: dict, optimizer_state: dict) -> dict:
        return {
            "model": model_state,
            "optimizer": optimizer_state,
            "scaler": self.scaler.state_dict(),
            "step": self.step,  # batches are drawn per step, so the step is also the data position
            "best_val": self.best_val,
            "history": self.history,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "model_config": self.model_cfg.to_dict(),
        }

    def save(self, name: str) -> None:
        """Write a checkpoint from rank 0 (every rank calls this: FSDP gathers the state from all)."""
        weights = self._weights()
        if self.rank == 0:
            checkpoint.save_checkpoint(self.run_dir / name, self._state(*weights))

    def resume(self) -> bool:
        """Continue from this run's last.pt if one exists; refuse one of another model. Under
        FSDP only rank 0 reads the weights and optimizer state, and sends each rank its shards."""
        path = self.run_dir / "last.pt"
        if not path.exists():
            return False
        sharded = self.cfg.parallel == "fsdp" and self.world > 1
        state = checkpoint.load_checkpoint(path, self.model_cfg, weights=not sharded or self.rank == 0)
        if self.cfg.parallel == "fsdp":
            parallel.load_full_state(self.model, self.optimizer, state["model"], state["optimizer"], sharded)
        else:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.best_val, self.history = state["step"], state["best_val"], state["history"]
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        log.info("resuming from %s at step %d", path, self.step)
        return True

    # --- the loop -------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> float:
        """The mean loss over the validation batches' counted targets, on every rank's part."""
        self.model.eval()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)  # summed loss, counted targets
        for x, y in self.batches.val_batches:
            with self._autocast():
                _, loss = self.model(x.to(self.device), y.to(self.device))
            counted = (y != -100).sum()
            sums += torch.stack([loss.double() * counted, counted.double().to(self.device)])
        if self.world > 1:
            dist.all_reduce(sums)
        self.model.train()
        return float(sums[0] / sums[1].clamp(min=1))

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step over the global batch, this rank's batch in forwards of `self.rows` sequences;
        returns (loss, grad norm) as tensors on the device, so nothing here waits for it
        (they are read at reports). Each forward's mean loss is weighted by its share of the
        batch's counted targets, so the step's loss and gradient are the batch's token mean
        however it is split."""
        optim.set_lr(self.optimizer, self.step, self.cfg)
        chunks = self.batches.train_chunks(self.step, self.cfg.grad_accum, self.rows)
        counts = [int((y != -100).sum()) for _, y in chunks]
        counted = parallel.global_count(sum(counts), self.device, self.world)
        total = torch.zeros((), device=self.device)
        for i, (x, y) in enumerate(chunks):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            share = counts[i] * self.world / counted  # the ranks' gradients are averaged
            with parallel.gradient_sync(self.forward, i == len(chunks) - 1):
                with self._autocast():
                    _, loss = self.forward(x, y)
                self.scaler.scale(loss * share).backward()
            total += loss.detach() * share
        self.scaler.unscale_(self.optimizer)
        norm = parallel.full_tensor(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.world > 1:
            dist.all_reduce(total, op=dist.ReduceOp.AVG)
        return total, norm

    def _report(self, pending: list, seconds: float, peak: float | None) -> dict:
        """The steps since the last report, read off the device at once: into the history,
        and their mean as the metrics of this step."""
        losses = torch.stack([loss for loss, _ in pending]).tolist()
        first = self.step - len(pending) + 1
        self.history["train"] += [[first + i, loss] for i, loss in enumerate(losses)]
        metrics = {
            "train_loss": float(np.mean(losses)),
            "lr": optim.lr_at(self.step - 1, self.cfg),
            "grad_norm": float(pending[-1][1]),
            "tokens_per_s": len(pending) * self.tokens_per_step / seconds,
            "flops_per_s": len(pending) * self.flops_per_step / seconds,
        }
        if peak:
            metrics["mfu"] = metrics["flops_per_s"] / (peak * self.world)
        metrics["peak_memory_mb"] = memory.peak_memory_mb(self.device)[0]
        return metrics

    def _validate(self, metrics: dict) -> None:
        metrics["val_loss"] = self.evaluate()
        self.history["val"].append([self.step, metrics["val_loss"]])
        log.info(
            "step %d/%d: train loss %.4f, val loss %.4f, lr %.2e, %.0f tokens/s",
            self.step,
            self.cfg.steps,
            metrics["train_loss"],
            metrics["val_loss"],
            metrics["lr"],
            metrics["tokens_per_s"],
        )
        if metrics["val_loss"] < self.best_val:
            self.best_val = metrics["val_loss"]
            self.save("best.pt")

    def run(self, progress: bool = True) -> dict:
        """Train to the configured step count, from the last checkpoint if there is one;
        return the summary (`steps_trained` counts this call's steps alone). Losses are read
        from the device every `log_every` steps and before an evaluation or a checkpoint."""
        from tqdm import tqdm

        resumed = self.resume()
        start_step, peak, cfg = self.step, devices.peak_flops(self.device), self.cfg
        bar = tqdm(
            total=cfg.steps, initial=self.step, disable=not progress or self.rank != 0, desc="train", mininterval=2.0
        )
        self.model.train()
        pending, started = [], time.perf_counter()
        while self.step < cfg.steps:
            pending.append(self.train_step())
            self.step += 1
            evaluate = self.step % cfg.eval_every == 0 or self.step == cfg.steps
            keep = self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps
            if not (evaluate or keep or self.step % cfg.log_every == 0):
                continue
            metrics = self._report(pending, time.perf_counter() - started, peak)
            if evaluate:
                self._validate(metrics)
            if keep:
                self.save("last.pt")
            if self.rank == 0:
                self.on_metrics(self.step, metrics)
            bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", tok_s=f"{metrics['tokens_per_s']:.0f}", refresh=False)
            bar.update(len(pending))
            pending, started = [], time.perf_counter()
        bar.close()
        return self.summary(resumed, self.step - start_step)

    def final_model(self) -> Transformer | None:
        """The trained model whole, on rank 0 (None elsewhere); under FSDP gathered from the
        ranks' shards, so every rank calls this."""
        if self.cfg.parallel == "fsdp" and self.world > 1:
            state = parallel.full_model_state(self.model)
            if self.rank != 0:
                return None
            whole = Transformer(self.model_cfg)
            whole.load_state_dict(state)
            return whole
        return self.model if self.rank == 0 else None

    def summary(self, resumed: bool, steps_trained: int) -> dict:
        peak_mb, peak_kind = memory.peak_memory_mb(self.device)
        return {
            "steps": self.step,
            "steps_trained": steps_trained,
            "resumed": resumed,
            "checkpoints": str(self.run_dir),
            "final_val_loss": self.history["val"][-1][1] if self.history["val"] else None,
            "best_val_loss": self.best_val,
            "params": self.model.num_params(),
            "params_without_embeddings": self.model.num_params(embeddings=False),
            "tokens_seen": self.step * self.tokens_per_step,
            "device": str(self.device),
            "autocast": str(self.dtype).removeprefix("torch.") if self.dtype else "fp32",
            "precision_probe": self.precision_probe,  # tokens/s per dtype where `auto` timed them on a CPU
            "micro_batch": self.rows,
            "forwards_per_step": self.cfg.batch_size * self.cfg.grad_accum // self.rows,
            "activation_checkpointing": self.cfg.activation_checkpointing,
            "peak_memory_mb": peak_mb,
            "peak_memory_mb_per_rank": parallel.peak_memory_per_rank(peak_mb, self.world),
            "peak_memory_kind": peak_kind,
            "parallel": self.cfg.parallel if self.world > 1 else None,
            "ranks": self.world,
            "history": self.history,
        }


def read_layout(tokenizer_json: Path, vocab_size: int) -> chat_layout.Layout:
    """The tokenizer's chat layout, refused if the tokenizer has more tokens than the model embeds."""
    tok = tokenizer.load(tokenizer_json)
    if tok.get_vocab_size() > vocab_size:
        raise InputError(f"{tokenizer_json}: {tok.get_vocab_size()} tokens, but the model embeds only {vocab_size}")
    return chat_layout.read(tok, tokenizer_json)
