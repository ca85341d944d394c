rule download:
    output:
        raw=directory("results/raw/{source}"),
    params:
        source=source_spec,
        code=code("download"),
    log:
        "results/logs/download/{source}.log",
    script:
        "../workflow_scripts/download.py"
