"""train_tokenizer: train a byte-level BPE or character tokenizer on a corpus's train split,
or take a pretrained one from its checkpoint.

input:  train — the corpus's train parts; stats — its stats.json (train bytes, for the sample);
        neither for a pretrained tokenizer
output: tokenizer — tokenizer.json; hf_config — tokenizer_config.json (chat template)
params: tokenizer — the tokenizer's config entry (kind, vocab_size, min_frequency, max_bytes;
        pretrained: from, document_end); checkpoint — a pretrained one's files and package version
"""

import json
from pathlib import Path

from minnow.pretrained import tokenizer as pretrained_tokenizer
from minnow.tokens import tokenizer
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="train_tokenizer") as run:
    tokenizer.use_threads(snakemake.threads)
    spec, config = snakemake.params.tokenizer, None
    if spec["kind"] == "pretrained":
        tok, config = pretrained_tokenizer.load(spec["from"], spec.get("document_end"))
        metrics = {"vocab_size": tok.get_vocab_size()}
    else:
        train_bytes = json.loads(Path(snakemake.input.stats).read_text())["totals"]["train"]["bytes"]
        fraction = tokenizer.sample_fraction(spec["max_bytes"], train_bytes)
        tok = tokenizer.train(snakemake.input.train, spec["vocab_size"], spec["min_frequency"], spec["kind"], fraction)
        metrics = {"vocab_size": tok.get_vocab_size(), "vocab_size_requested": spec["vocab_size"]}
        metrics["sample_fraction"] = fraction
    tokenizer.save(tok, Path(snakemake.output.tokenizer).parent, config)
    run.log_metrics(metrics)
    run.log_artifact(snakemake.output.hf_config)
