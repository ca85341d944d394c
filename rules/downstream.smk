# Downstream benchmarks through lm-evaluation-harness, on the exported HF folder: off
# while evaluation.downstream.tasks is empty (the offline default), so nothing here runs.


rule reference_downstream:
    output:
        "results/references/{reference}/downstream.json",
    log:
        "results/logs/reference_downstream/{reference}.log",
    benchmark:
        "results/benchmarks/reference_downstream/{reference}.tsv"
    threads: 8
    resources:
        mem_mb=downstream_mem_mb,
    params:
        reference=reference_spec,
        files=reference_files,
        version=reference_version,
        settings=downstream_settings(),
        context=config["evaluation"]["reference_context"],
        task_files=downstream_task_files(),
        lm_eval=packages.version("lm_eval"),
        code=code("reference_downstream"),
    script:
        "../workflow_scripts/reference_downstream.py"


rule downstream:
    input:
        hf="results/{model}/export/hf",
        references=expand(
            "results/references/{reference}/downstream.json",
            reference=minnow_config.downstream_references(config),
        ),
    output:
        "results/{model}/downstream.json",
    log:
        "results/logs/downstream/{model}.log",
    benchmark:
        "results/benchmarks/downstream/{model}.tsv"
    threads: 8
    resources:
        gpu=model_eval_gpus,
        mem_mb=downstream_mem_mb,
    params:
        settings=downstream_settings(),
        task_files=downstream_task_files(),
        references=minnow_config.downstream_references(config),
        lm_eval=packages.version("lm_eval"),
        code=code("downstream"),
    script:
        "../workflow_scripts/downstream.py"
