"""Workflow plumbing, used by the rules and step scripts, never by a stage's library code:
`config` (checks and what each rule reads of the config), `tracking` and `run_groups`
(MLflow), `steplog` (the rule log) and `report_pages` (the report's HTML tables)."""
