"""The memory a scoring job asks its scheduler for (`mem_mb`), from the model's size and the batch.

Scoring holds the model in fp32 and one batch's logits: its tokens (ppl.json's
`batch_tokens`; lm-eval's batch of full windows, one on a CPU) times the
vocabulary, as fp32 logits and their log-softmax. On top sit two
interpreters: the step's (MLflow, torch) and the forked child that does the work
(`minnow.workflow.isolated`). Peak RSS measured through Snakemake on a 2-core CPU against
the estimate (docs/BENCHMARKS.md): SmolLM2-135M (49,152 entries) on ppl.json's 91 KB
val set at 4,096 tokens a batch, 2.82 GB against 4.57; the same on lm-eval, one
1,024-token window a forward, 1.66–2.00 GB against 2.85; the tiny model 0.84 GB against
1.71 (ppl.json) and 0.98–1.22 against 1.52 (lm-eval), where the interpreters are nearly
all of it and vary from run to run by a fifth. A job asking for the estimate is not
killed for the interpreters' and allocator's slack, and on SLURM its request is what
the job needs, not one guess per rule. A job run again after a failure asks for more
(`attempt`). Computed while Snakemake plans (rules/common.smk), from sizes read off
the config and the checkpoints' files (`sizes`).
"""

import math
from pathlib import Path

from minnow.eval.windows import lm_eval_batch, read_window
from minnow.workflow import sizes
from minnow.workflow.config import downstream

BASE_MB = 1500  # two interpreters, torch, transformers, MLflow, lm-eval imported: 1.22 GB seen, and a margin
WEIGHT_BYTES = 6  # per parameter: fp32 weights, and half again while a checkpoint loads
LOGIT_BYTES = 12  # per token and vocabulary entry: fp32 logits, their log-softmax, a margin
UNKNOWN_MB = 16000  # a checkpoint whose size cannot be read here (a hub model not yet downloaded)


def mem_mb(size: sizes.Size | None, batch_tokens: int | None, attempt: int = 1) -> int:
    """MB for a job that scores a model of `size` (None where unknown), `batch_tokens`
    tokens per forward."""
    if size is None or batch_tokens is None:
        return UNKNOWN_MB * attempt
    need = WEIGHT_BYTES * size.parameters + LOGIT_BYTES * size.vocab * batch_tokens
    return attempt * (BASE_MB + math.ceil(need / 2**20))


def downstream_tokens(batch_size: int | str, max_length: int) -> int:
    """Tokens per forward the host holds in an lm-eval job: a configured batch of full
    windows, else (`auto`) one window, a CPU's batch (`windows.lm_eval_batch`)."""
    return lm_eval_batch(batch_size, on_cpu=True) * max_length


def _size(config: dict, cache: Path | str, model: str | None, reference: str | None) -> sizes.Size | None:
    if model is not None:
        return sizes.model_size(config, model, cache)
    return sizes.checkpoint_size(config["references"][reference], cache)


def perplexity_mb(config: dict, cache: Path | str, attempt: int, model=None, reference=None) -> int:
    """A perplexity job's request: a model (and its init base, of the same shape) or a
    reference, scored in ppl.json's batches of `evaluation.batch_tokens`."""
    return mem_mb(_size(config, cache, model, reference), config["evaluation"]["batch_tokens"], attempt)


def downstream_mb(config: dict, cache: Path | str, attempt: int, model=None, reference=None) -> int:
    """An lm-eval job's request, in the window lm-eval will read: a minnow model's own
    context (its init checkpoint's where the preset states none), a reference's
    `evaluation.reference_context` capped at its own maximum (`windows.read_window`)."""
    size = _size(config, cache, model, reference)
    window = size and size.context
    if size and reference is not None:
        window = read_window(config["evaluation"]["reference_context"], size.context)
    tokens = window and downstream_tokens(downstream(config)["batch_size"], window)
    return mem_mb(size, tokens, attempt)
