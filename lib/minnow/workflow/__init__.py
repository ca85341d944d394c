"""Workflow plumbing, used by the rules and step scripts, never by a stage's library code.

What Snakemake calls while it plans, so that rules/common.smk only looks things up:
`config` (what each rule reads of the config, its defaults), `checks` (what the
schema cannot check), `inputs` (each rule's input paths), `targets` (what `all`
builds), `identity` (file digests and package versions that rerun a rule),
`resources` (GPUs and nodes), and `sizes` and `job_memory` (the scoring jobs'
memory requests). They are in no step's code digest, so changing them reruns
nothing (tests/test_code_closures.py).

What steps call around their work: `tracking` and `run_groups` (MLflow), `steplog`
(the rule log), `report_pages` (the report's HTML tables) and `isolated` (scoring
in a child process, so that a kill says why).
"""
