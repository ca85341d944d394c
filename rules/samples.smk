rule samples:
    input:
        weights="results/{model}/model.safetensors",
        tokenizer="results/{model}/tokenizer.json",
    output:
        "results/{model}/samples.md",
    params:
        samples=config["samples"],
        code=code("samples"),
    log:
        "results/logs/samples/{model}.log",
    script:
        "../workflow_scripts/samples.py"
