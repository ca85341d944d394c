"""perplexity: score a model on its eval sets and gather the references' scores into ppl.json.

input:  weights, tokenizer — the model folder's files; documents, metas — eval sets (one per
        params.sets); references — one JSON per (eval set, reference), in params order;
        init — a fine-tune's init model weights (scored beside it as init-<name>)
output: results/{model}/ppl.json
params: protocol — the evaluation config; sets — eval set names; references — reference names
"""

from pathlib import Path

import torch

from minnow.atomic import write_json
from minnow.eval.ppl_json import bits_per_byte_columns, build_ppl_json
from minnow.workflow import isolated, tracking

with tracking.step_run(snakemake, step="perplexity") as run:
    torch.set_num_threads(snakemake.threads)
    inp, p = snakemake.input, snakemake.params
    refs = iter(inp.references)
    references = {s: {r: Path(next(refs)) for r in p.references} for s in p.sets}
    result = isolated.call(
        build_ppl_json,
        snakemake.wildcards.model,
        Path(inp.weights).parent,
        dict(zip(p.sets, map(Path, inp.documents), strict=True)),
        dict(zip(p.sets, map(Path, inp.metas), strict=True)),
        references,
        p.protocol,
        Path(inp.init[0]).parent if inp.init else None,
        what=f"scoring {snakemake.wildcards.model}",
        mem_mb=snakemake.resources.get("mem_mb"),
    )
    write_json(snakemake.output[0], result)
    run.log_params({"device_used": result["model"]["device"]})
    scores = {s: {"model": v["model"], "ref": v["references"]} for s, v in result["eval_sets"].items()}
    run.log_metrics(tracking.numeric_leaves(scores))
    run.log_model_metrics(bits_per_byte_columns(result))
    run.log_artifact(snakemake.output[0])
