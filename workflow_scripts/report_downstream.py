"""report_downstream: a model's downstream.json as an HTML page for `snakemake --report`.

input:  results/{model}/downstream.json
output: results/{model}/report/downstream.html
params: code — digest of the lib code
"""

import json
from pathlib import Path

from minnow.atomic import write_text
from minnow.workflow import report_pages, tracking

with tracking.step_run(snakemake, step="report_downstream") as run:
    result = json.loads(Path(snakemake.input[0]).read_text())
    write_text(snakemake.output[0], report_pages.downstream_page(result))
    run.log_artifact(snakemake.output[0])
