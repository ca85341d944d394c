rule prepare_corpus:
    input:
        unpack(corpus_raw_dirs),
    output:
        train="results/corpus/{corpus}/train.parquet",
        val="results/corpus/{corpus}/val.parquet",
        stats="results/corpus/{corpus}/stats.json",
    log:
        "results/logs/prepare_corpus/{corpus}.log",
    benchmark:
        "results/benchmarks/prepare_corpus/{corpus}.tsv"
    params:
        corpus=corpus_spec,
        code=code("prepare_corpus"),
    script:
        "../workflow_scripts/prepare_corpus.py"
