"""samples: write what a model says to the config's fixed prompts.

input:  weights, tokenizer — the model folder's files; init — a fine-tune's init model weights
        (its answers are shown beside the fine-tune's)
output: results/{model}/samples.md
params: samples — prompts, chat questions and sampling settings; device — evaluation.device
"""

from pathlib import Path

from minnow import devices
from minnow.inference.samples import write_samples
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="samples") as run:
    spec, device = snakemake.params.samples, snakemake.params.device
    init = Path(snakemake.input.init[0]).parent if snakemake.input.init else None
    page = write_samples(Path(snakemake.input.weights).parent, spec, Path(snakemake.output[0]), device, init)
    run.log_params({"device_used": str(devices.eval_device(device))})
    run.log_metrics({"prompts": len(spec["prompts"]), "chat_prompts": len(spec["chat"]), "characters": len(page)})
    run.log_artifact(snakemake.output[0])
