"""report_model: one model's results as HTML pages for `snakemake --report`.

input:  ppl — ppl.json; quant — export/quant.json; samples — samples.md; summary — train_summary.json
output: perplexity, export, samples, training — HTML pages under results/{model}/report/
params: code — digest of the lib code
"""

from pathlib import Path

from minnow.workflow import report_pages, tracking

with tracking.step_run(snakemake, step="report_model") as run:
    i, out = snakemake.input, snakemake.output
    pages = {name: Path(out[name]) for name in ("perplexity", "export", "samples", "training")}
    report_pages.write_model_pages(i.ppl, i.quant, i.samples, i.summary, snakemake.wildcards.model, pages)
    for path in pages.values():
        run.log_artifact(path)
