"""import_init: a model's init checkpoint (hf, or a GGUF file) as a minnow model folder.

input:  tokenizer — the model's pretrained tokenizer (from the same checkpoint)
output: weights — model.safetensors; config — config.json; tokenizer, tokenizer_config — copies
params: checkpoint — the init spec; identity — its local files' digests and package version;
        stated — the shape keys the preset states (each must agree with the checkpoint)
"""

from pathlib import Path

from minnow.pretrained.init_import import import_checkpoint
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="import_init") as run:
    p = snakemake.params
    out = Path(snakemake.output.weights).parent
    about = import_checkpoint(p.checkpoint, Path(snakemake.input.tokenizer), out, p.stated, snakemake.wildcards.model)
    run.log_params({"source": about["source"]})
    run.log_metrics({"parameters": about["parameters"]})
