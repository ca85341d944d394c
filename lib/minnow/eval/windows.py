"""How much a scorer reads at once: a checkpoint's window, and lm-eval's windows per forward.

One rule each for ppl.json, lm-eval and the memory their jobs ask for. Torch-free,
so that `minnow.workflow.job_memory` sizes a job's request from the same rules
while Snakemake plans.
"""


def read_window(context: int, max_positions: int | None) -> int:
    """The window a checkpoint is read in: `context` tokens (evaluation.reference_context),
    capped at the most positions it has (its max_position_embeddings, where stated)."""
    return min(context, max_positions or context)


def model_window(model, context: int) -> int:
    """`read_window` of a loaded transformers model, capped by its config's max_position_embeddings."""
    return read_window(context, getattr(model.config, "max_position_embeddings", None))


def lm_eval_batch(setting: int | str, on_cpu: bool) -> int | str:
    """lm-eval's batch size: as configured, except `auto` (or `auto:N`) on a CPU, which is
    one window a forward: lm-eval's probe would try ever larger batches of full windows
    until one fails, and on a CPU failing means the OOM killer, not an exception. On a
    GPU the probe fills the card, not the host, which holds one window's batch as well."""
    return 1 if isinstance(setting, str) and on_cpu else setting
