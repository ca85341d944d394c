rule export:
    input:
        weights="results/{model}/model.safetensors",
        tokenizer="results/{model}/tokenizer.json",
        text=model_val_text,
    output:
        quant="results/{model}/export/quant.json",
        int8="results/{model}/export/int8.safetensors",
        int4="results/{model}/export/int4-g128.safetensors",
        mixed="results/{model}/export/mixed.safetensors",
        hf=directory("results/{model}/export/hf"),
        gguf=expand(
            "results/{{model}}/export/model-{kind}.gguf",
            kind=config["export"]["gguf_types"],
        ),
    log:
        "results/logs/export/{model}.log",
    benchmark:
        "results/benchmarks/export/{model}.tsv"
    threads: 8
    resources:
        gpu=model_eval_gpus,
    params:
        gguf_types=config["export"]["gguf_types"],
        stride_fraction=config["evaluation"]["stride_fraction"],
        code=code("export"),
    script:
        "../workflow_scripts/export.py"
