rule eval_set:
    input:
        unpack(eval_set_input),
    output:
        documents="results/eval/{evalset}.jsonl",
        meta="results/eval/{evalset}.json",
    log:
        "results/logs/eval_set/{evalset}.log",
    params:
        spec=eval_set_spec,
        files=eval_set_files,
        max_bytes=config["evaluation"]["max_bytes"],
        code=code("eval_set"),
    script:
        "../workflow_scripts/eval_set.py"


rule reference_perplexity:
    input:
        documents="results/eval/{evalset}.jsonl",
    output:
        "results/references/{reference}/{evalset}.json",
    log:
        "results/logs/reference_perplexity/{reference}/{evalset}.log",
    benchmark:
        "results/benchmarks/reference_perplexity/{reference}/{evalset}.tsv"
    threads: 8
    resources:
        gpu=reference_gpus,
        mem_mb=reference_mem_mb,
    params:
        reference=reference_spec,
        files=reference_files,
        version=reference_version,
        context=config["evaluation"]["reference_context"],
        protocol=minnow_config.window_protocol(config),
        code=code("reference_perplexity"),
    script:
        "../workflow_scripts/reference_perplexity.py"


rule perplexity:
    input:
        unpack(perplexity_inputs),
    output:
        "results/{model}/ppl.json",
    log:
        "results/logs/perplexity/{model}.log",
    benchmark:
        "results/benchmarks/perplexity/{model}.tsv"
    threads: 8
    resources:
        gpu=model_eval_gpus,
        mem_mb=model_mem_mb,
    params:
        protocol=minnow_config.perplexity_protocol(config),
        sets=model_eval_sets,
        references=list(config["references"]),
        code=code("perplexity"),
    script:
        "../workflow_scripts/perplexity.py"
