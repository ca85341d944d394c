"""reference_downstream: score one reference model on the lm-eval tasks (cached per reference).

output: results/references/{reference}/downstream.json — per-task metrics, or why an optional
        reference was skipped
params: reference — hf id or GGUF; files, version — what pins it; settings — evaluation.downstream;
        context — the reference window ppl.json uses; task_files — digests of the custom task
        folder; lm_eval — its version
"""

import torch

from minnow.atomic import write_json
from minnow.eval import downstream
from minnow.workflow import isolated, tracking

with tracking.step_run(snakemake, step="reference_downstream") as run:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    result = isolated.call(
        downstream.evaluate_reference,
        *(snakemake.wildcards.reference, p.reference, p.settings, p.context),
        what=f"lm-eval on reference {snakemake.wildcards.reference}",
        mem_mb=snakemake.resources.get("mem_mb"),
    )
    write_json(snakemake.output[0], result)
    run.log_metrics(tracking.numeric_leaves({task: r["metrics"] for task, r in result.get("tasks", {}).items()}))
