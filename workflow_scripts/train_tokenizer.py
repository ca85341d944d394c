"""train_tokenizer: train a byte-level BPE or character tokenizer on a corpus's train split.

input:  train — the corpus's train parts; stats — its stats.json (train bytes, for the sample)
output: tokenizer — tokenizer.json; hf_config — tokenizer_config.json (chat template)
params: tokenizer — the tokenizer's config entry (kind, vocab_size, min_frequency, max_bytes)
"""

import json
from pathlib import Path

from minnow import tokenizer
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="train_tokenizer") as run:
    tokenizer.use_threads(snakemake.threads)
    spec = snakemake.params.tokenizer
    train_bytes = json.loads(Path(snakemake.input.stats).read_text())["totals"]["train"]["bytes"]
    fraction = tokenizer.sample_fraction(spec["max_bytes"], train_bytes)
    tok = tokenizer.train(snakemake.input.train, spec["vocab_size"], spec["min_frequency"], spec["kind"], fraction)
    tokenizer.save(tok, Path(snakemake.output.tokenizer).parent)
    run.log_metrics(
        {"vocab_size": tok.get_vocab_size(), "vocab_size_requested": spec["vocab_size"], "sample_fraction": fraction}
    )
    run.log_artifact(snakemake.output.hf_config)
