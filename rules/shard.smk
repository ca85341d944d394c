rule shard:
    input:
        tokenizer="results/tokenizers/{tokenizer}/tokenizer.json",
        train="results/corpus/{corpus}/train.parquet",
        val="results/corpus/{corpus}/val.parquet",
    output:
        shards=directory("results/shards/{corpus}/{tokenizer}"),
    params:
        shard=config["shard"],
        code=code("shard"),
    threads: workflow.cores
    log:
        "results/logs/shard/{corpus}/{tokenizer}.log",
    benchmark:
        "results/benchmarks/shard/{corpus}/{tokenizer}.tsv"
    script:
        "../workflow_scripts/shard.py"
