rule download:
    output:
        raw=directory("results/raw/{source}"),
    log:
        "results/logs/download/{source}.log",
    params:
        source=source_spec,
        files=source_files,
        code=code("download"),
    script:
        "../workflow_scripts/download.py"
