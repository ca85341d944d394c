"""train_tokenizer: train a byte-level BPE or character tokenizer on a corpus's train split.

input:  train — the corpus's train.parquet
output: tokenizer — tokenizer.json; hf_config — tokenizer_config.json (chat template)
params: tokenizer — the tokenizer's config entry (kind, vocab_size, min_frequency)
"""

from pathlib import Path

from minnow import tokenizer, tracking

with tracking.step_run(snakemake, step="train_tokenizer") as run:
    tokenizer.use_threads(snakemake.threads)
    spec = snakemake.params.tokenizer
    tok = tokenizer.train(snakemake.input.train, spec["vocab_size"], spec["min_frequency"], spec["kind"])
    tokenizer.save(tok, Path(snakemake.output.tokenizer).parent)
    run.log_metrics({"vocab_size": tok.get_vocab_size(), "vocab_size_requested": spec["vocab_size"]})
    run.log_artifact(snakemake.output.hf_config)
