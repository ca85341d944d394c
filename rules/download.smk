rule download:
    output:
        raw=directory("results/raw/{source}"),
    log:
        "results/logs/download/{source}.log",
    conda:
        "../environment.yml"
    params:
        source=source_spec,
        code=code("download"),
    script:
        "../workflow_scripts/download.py"
