"""The memory a scoring job asks its scheduler for (`mem_mb`), from the model's size and the batch.

Scoring holds the model in fp32 and one batch's logits: `batch_tokens` tokens
(ppl.json's batches, and lm-eval's on a CPU, where `batch_size: auto` is that many
tokens) times the vocabulary, as fp32 logits and their log-softmax. On top sit two
interpreters: the step's (MLflow, torch) and the forked child that does the work
(`minnow.isolated`). Peaks measured through Snakemake on a 2-core CPU
(docs/BENCHMARKS.md): SmolLM2-135M (49,152 entries) scoring ppl.json's 91 KB val
set at 4,096 tokens a batch, 2.82 GB of RSS against an estimate of 4.07 GB; the tiny
model, 0.84 GB against 1.20 GB. A job asking for the estimate is not killed for the
interpreters' and allocator's slack, and on SLURM its request is what the job needs,
not one guess per rule. A job run again after a failure asks for more (`attempt`).
"""

import math

BASE_MB = 1000  # the step's interpreter and its worker's, torch, transformers, MLflow, lm-eval imported
WEIGHT_BYTES = 6  # per parameter: fp32 weights, and half again while a checkpoint loads
LOGIT_BYTES = 12  # per token and vocabulary entry: fp32 logits, their log-softmax, a margin
UNKNOWN_MB = 16000  # a checkpoint whose size cannot be read here (a hub model not yet downloaded)


def mem_mb(sizes: list[tuple[int, int] | None], batch_tokens: int, attempt: int = 1) -> int:
    """MB for a job that scores the models of `sizes` ((parameters, vocabulary) each, None
    where unknown) one after another, `batch_tokens` tokens per forward."""
    if not sizes or None in sizes:
        return UNKNOWN_MB * attempt
    need = max(WEIGHT_BYTES * parameters + LOGIT_BYTES * vocab * batch_tokens for parameters, vocab in sizes)
    return attempt * (BASE_MB + math.ceil(need / 2**20))


def downstream_tokens(batch_size: int | str, max_length: int, batch_tokens: int) -> int:
    """Tokens per forward of an lm-eval job: a configured batch of full windows, else
    (`auto`) `batch_tokens`, the CPU's batch (a GPU's probe fills the card, not the host)."""
    return batch_size * max_length if isinstance(batch_size, int) else batch_tokens
