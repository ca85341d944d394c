rule shard_part:
    input:
        tokenizer="results/tokenizers/{tokenizer}/tokenizer.json",
        parquet="results/corpus/{corpus}/{split}/{source}/part-{part}.parquet",
    output:
        shard="results/shards/{corpus}/{tokenizer}/{split}/{source}/part-{part}.bin",
        counts="results/shards/{corpus}/{tokenizer}/{split}/{source}/part-{part}.json",
    log:
        "results/logs/shard_part/{corpus}/{tokenizer}/{split}/{source}/part-{part}.log",
    benchmark:
        "results/benchmarks/shard_part/{corpus}/{tokenizer}/{split}/{source}/part-{part}.tsv"
    params:
        batch_bytes=config["shard"]["batch_bytes"],
        code=code("shard_part"),
    script:
        "../workflow_scripts/shard_part.py"


rule shard:
    input:
        unpack(shard_input),
        tokenizer="results/tokenizers/{tokenizer}/tokenizer.json",
    output:
        "results/shards/{corpus}/{tokenizer}/meta.json",
    log:
        "results/logs/shard/{corpus}/{tokenizer}.log",
    benchmark:
        "results/benchmarks/shard/{corpus}/{tokenizer}.tsv"
    params:
        code=code("shard"),
    script:
        "../workflow_scripts/shard.py"
