rule fetch:
    output:
        directory("results/fetched/{source}"),
    log:
        "results/logs/fetch/{source}.log",
    benchmark:
        "results/benchmarks/fetch/{source}.tsv"
    params:
        source=source_spec,
        code=code("fetch"),
    script:
        "../workflow_scripts/fetch.py"


rule download:
    input:
        unpack(download_input),
    output:
        raw=directory("results/raw/{source}/part-{part}"),
    log:
        "results/logs/download/{source}/part-{part}.log",
    benchmark:
        "results/benchmarks/download/{source}/part-{part}.tsv"
    params:
        source=source_spec,
        parts=source_parts,
        whole_text=source_whole_text,
        files=source_files,
        code=code("download"),
    script:
        "../workflow_scripts/download.py"
