# The corpus stage, three steps: each source part filtered and keyed (in parallel),
# one global dedup over the keys that also fixes the mix, each part mixed and split.


rule prepare_part:
    input:
        raw="results/raw/{source}/part-{part}",
    output:
        survivors="results/corpus/{corpus}/prepared/{source}/part-{part}.parquet",
        dedup_keys="results/corpus/{corpus}/prepared/{source}/part-{part}.keys.parquet",
        stats="results/corpus/{corpus}/prepared/{source}/part-{part}.json",
    log:
        "results/logs/prepare_part/{corpus}/{source}/part-{part}.log",
    benchmark:
        "results/benchmarks/prepare_part/{corpus}/{source}/part-{part}.tsv"
    params:
        settings=part_settings,
        code=code("prepare_part"),
    script:
        "../workflow_scripts/prepare_part.py"


rule dedup:
    input:
        unpack(dedup_input),
    output:
        drops="results/corpus/{corpus}/dedup/drops.parquet",
        plan="results/corpus/{corpus}/dedup/plan.json",
        stats="results/corpus/{corpus}/stats.json",
    log:
        "results/logs/dedup/{corpus}.log",
    benchmark:
        "results/benchmarks/dedup/{corpus}.tsv"
    params:
        corpus=dedup_settings,
        parts=corpus_part_counts,
        code=code("dedup"),
    script:
        "../workflow_scripts/dedup.py"


rule mix_part:
    input:
        survivors="results/corpus/{corpus}/prepared/{source}/part-{part}.parquet",
        drops="results/corpus/{corpus}/dedup/drops.parquet",
        plan="results/corpus/{corpus}/dedup/plan.json",
    output:
        train="results/corpus/{corpus}/train/{source}/part-{part}.parquet",
        val="results/corpus/{corpus}/val/{source}/part-{part}.parquet",
        heldout="results/corpus/{corpus}/heldout/{source}/part-{part}.parquet",
    log:
        "results/logs/mix_part/{corpus}/{source}/part-{part}.log",
    benchmark:
        "results/benchmarks/mix_part/{corpus}/{source}/part-{part}.tsv"
    params:
        code=code("mix_part"),
    script:
        "../workflow_scripts/mix_part.py"


rule corpus_index:
    input:
        unpack(corpus_index_input),
    output:
        index="results/corpus/{corpus}/corpus.json",
    log:
        "results/logs/corpus_index/{corpus}.log",
    params:
        code=code("corpus_index"),
    script:
        "../workflow_scripts/corpus_index.py"
