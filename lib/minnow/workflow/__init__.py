"""Workflow plumbing, used by the rules and step scripts, never by a stage's library code.

What Snakemake calls while it plans: `config` (checks and what each rule reads of
the config), `sizes` and `job_memory` (the scoring jobs' memory requests). They are
in no step's code digest, so changing them reruns nothing (tests/test_code_closures.py).
What steps call around their work: `tracking` and `run_groups` (MLflow), `steplog`
(the rule log) and `report_pages` (the report's HTML tables).
"""
