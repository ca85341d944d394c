rule train:
    input:
        shards=model_shards,
        tokenizer=model_tokenizer,
        init=model_init_weights,
    output:
        weights="results/{model}/model.safetensors",
        config="results/{model}/config.json",
        tokenizer="results/{model}/tokenizer.json",
        tokenizer_config="results/{model}/tokenizer_config.json",
        curve=report(
            "results/{model}/loss_curve.png",
            caption="../report/loss_curve.rst",
            category="Training",
            labels={"model": "{model}", "figure": "loss curve"},
        ),
        summary="results/{model}/train_summary.json",
    log:
        "results/logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    threads: 8
    resources:
        gpu=model_gpus,
        nodes=model_nodes,
    params:
        model=model_preset,
        vocab_size=model_vocab,
        data=model_data,
        checkpoints="results/{model}/checkpoints",
        code=code("train"),
    script:
        "../workflow_scripts/train.py"


rule import_init:
    input:
        tokenizer=model_tokenizer,
    output:
        weights="results/{model}/init/model.safetensors",
        config="results/{model}/init/config.json",
        tokenizer="results/{model}/init/tokenizer.json",
        tokenizer_config="results/{model}/init/tokenizer_config.json",
    log:
        "results/logs/import_init/{model}.log",
    benchmark:
        "results/benchmarks/import_init/{model}.tsv"
    params:
        checkpoint=model_init_checkpoint,
        identity=model_init_identity,
        stated=model_stated_shape,
        code=code("import_init"),
    script:
        "../workflow_scripts/import_init.py"
