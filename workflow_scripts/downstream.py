"""downstream: score a model's exported HF folder on the lm-eval tasks, beside its references.

input:  hf — results/{model}/export/hf; references — one downstream.json per reference, in
        params.references order
output: results/{model}/downstream.json
params: settings — evaluation.downstream; task_files — digests of the custom task folder;
        references — reference names; lm_eval — its version (a new one rescores)
"""

from pathlib import Path

import torch

from minnow.atomic import write_json
from minnow.eval import downstream_folder
from minnow.workflow import isolated, tracking

with tracking.step_run(snakemake, step="downstream") as run:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    result = isolated.call(
        downstream_folder.model_result,
        snakemake.wildcards.model,
        Path(snakemake.input.hf),
        p.settings,
        dict(zip(p.references, map(Path, snakemake.input.references), strict=True)),
        what=f"lm-eval on {snakemake.wildcards.model}",
        mem_mb=snakemake.resources.get("mem_mb"),
    )
    write_json(snakemake.output[0], result)
    metrics = tracking.numeric_leaves({task: r["metrics"] for task, r in result["tasks"].items()})
    run.log_metrics(metrics)
    run.log_model_metrics(metrics)
    run.log_artifact(snakemake.output[0])
