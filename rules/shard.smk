rule shard:
    input:
        tokenizer="results/tokenizers/{tokenizer}/tokenizer.json",
        train="results/corpus/{corpus}/train.parquet",
        val="results/corpus/{corpus}/val.parquet",
    output:
        shards=directory("results/shards/{corpus}/{tokenizer}"),
    log:
        "results/logs/shard/{corpus}/{tokenizer}.log",
    benchmark:
        "results/benchmarks/shard/{corpus}/{tokenizer}.tsv"
    threads: 8
    params:
        shard=config["shard"],
        code=code("shard"),
    script:
        "../workflow_scripts/shard.py"
