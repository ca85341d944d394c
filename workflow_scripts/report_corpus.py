"""report_corpus: a corpus's filter, dedup and mix counts as an HTML page for `snakemake --report`.

input:  stats — stats.json of the `dedup` rule
output: the page, results/corpus/{corpus}/stats.html
params: code — digest of the lib code
"""

import json
from pathlib import Path

from minnow.atomic import write_text
from minnow.workflow import report_pages, tracking

with tracking.step_run(snakemake, step="report_corpus") as run:
    stats = json.loads(Path(snakemake.input.stats).read_text())
    write_text(snakemake.output[0], report_pages.corpus_page(stats, snakemake.wildcards.corpus))
    run.log_artifact(snakemake.output[0])
