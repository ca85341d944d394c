"""The memory a scoring job asks its scheduler for (`mem_mb`), from the model's size and the batch.

Scoring holds the model in fp32 and one batch's logits: its tokens (ppl.json's
`batch_tokens`; lm-eval's batch of full windows, one on a CPU) times the
vocabulary, as fp32 logits and their log-softmax. On top sit two
interpreters: the step's (MLflow, torch) and the forked child that does the work
(`minnow.isolated`). Peak RSS measured through Snakemake on a 2-core CPU against
the estimate (docs/BENCHMARKS.md): SmolLM2-135M (49,152 entries) on ppl.json's 91 KB
val set at 4,096 tokens a batch, 2.82 GB against 4.27; the same on lm-eval, one
1,024-token window a forward, 1.66 GB against 2.55; the tiny model 0.84 GB against
1.40 (ppl.json) and 1.03 against 1.22 (lm-eval). A job asking for the estimate is not
killed for the interpreters' and allocator's slack, and on SLURM its request is what
the job needs, not one guess per rule. A job run again after a failure asks for more
(`attempt`).
"""

import math

BASE_MB = 1200  # the step's interpreter and its worker's, torch, transformers, MLflow, lm-eval imported
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


def downstream_tokens(batch_size: int | str, max_length: int) -> int:
    """Tokens per forward of an lm-eval job: a configured batch of full windows, else
    (`auto`) one window, a CPU's batch (a GPU's probe fills the card, not the host)."""
    return (batch_size if isinstance(batch_size, int) else 1) * max_length
