rule samples:
    input:
        weights="results/{model}/model.safetensors",
        tokenizer="results/{model}/tokenizer.json",
        init=model_init_weights,
    output:
        "results/{model}/samples.md",
    log:
        "results/logs/samples/{model}.log",
    resources:
        gpu=model_eval_gpus,
    params:
        samples=config["samples"],
        device=config["evaluation"]["device"],
        code=code("samples"),
    script:
        "../workflow_scripts/samples.py"
