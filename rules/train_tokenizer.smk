rule train_tokenizer:
    input:
        unpack(tokenizer_input),
    output:
        tokenizer="results/tokenizers/{tokenizer}/tokenizer.json",
        hf_config="results/tokenizers/{tokenizer}/tokenizer_config.json",
    log:
        "results/logs/train_tokenizer/{tokenizer}.log",
    benchmark:
        "results/benchmarks/train_tokenizer/{tokenizer}.tsv"
    threads: 8
    params:
        tokenizer=tokenizer_spec,
        checkpoint=tokenizer_checkpoint_files,
        code=tokenizer_code,
    script:
        "../workflow_scripts/train_tokenizer.py"
