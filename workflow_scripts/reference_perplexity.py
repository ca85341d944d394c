"""reference_perplexity: score one reference model on one eval set (cached per pair).

input:  documents — results/eval/{evalset}.jsonl
output: results/references/{reference}/{evalset}.json — metrics, or why an optional one was skipped
params: reference — hf id or GGUF; version — the installed package of a packaged GGUF
        (a new wheel rescores); context — the reference window; protocol — the window protocol
"""

import torch

from minnow.atomic import write_json
from minnow.eval import references
from minnow.eval.eval_sets import read_documents, read_sources
from minnow.workflow import isolated, tracking

with tracking.step_run(snakemake, step="reference_perplexity") as run:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    documents, sources = read_documents(snakemake.input.documents), read_sources(snakemake.input.documents)
    result = isolated.call(
        references.evaluate,
        *(snakemake.wildcards.reference, p.reference, documents, p.context, p.protocol, sources),
        what=f"scoring reference {snakemake.wildcards.reference}",
        mem_mb=snakemake.resources.get("mem_mb"),
    )
    write_json(snakemake.output[0], result)
    run.log_metrics(tracking.numeric_leaves(result))
    if "device" in result:
        run.log_params({"device_used": result["device"]})
