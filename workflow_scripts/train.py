"""train: train (or resume) one model preset on its corpus's shards.

input:  shards — the shards' meta.json (its folder holds them); tokenizer — tokenizer.json;
        init — the weights of the preset's init model (none without `init`)
output: weights — model.safetensors; config — config.json (HF Llama + minnow);
        tokenizer, tokenizer_config — copies, so the folder loads on its own;
        curve — loss_curve.png; summary — train_summary.json
params: model — the preset (architecture and train settings); vocab_size — embedding rows;
        data — corpus, tokenizer and lowercase, recorded in config.json;
        checkpoints — folder of resumable checkpoints, one subfolder per run fingerprint
                      (kept across reruns, so not an output); code — digest of the lib code
"""

import time
from pathlib import Path

from minnow.train import launch
from minnow.train.job import TrainJob
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="train") as run:
    p, out = snakemake.params, snakemake.output
    job = TrainJob(
        name=snakemake.wildcards.model,
        spec=p.model,
        vocab_size=p.vocab_size,
        data=p.data,
        shards=Path(snakemake.input.shards).parent,
        tokenizer_json=Path(snakemake.input.tokenizer),
        checkpoints=Path(p.checkpoints),
        weights=Path(out.weights),
        config=Path(out.config),
        curve=Path(out.curve),
        summary=Path(out.summary),
        init=Path(snakemake.input.init[0]) if snakemake.input.init else None,
    )
    started = time.time()
    gpus, nodes = p.model["train"]["gpus"], p.model["train"]["nodes"]
    if gpus > 1 or nodes > 1:
        result = launch.torchrun(job, gpus, run.run_id, nodes)
    else:
        result = job.run(on_metrics=run.log_step_metrics, threads=snakemake.threads)
    run.log_metrics(tracking.numeric_leaves({k: v for k, v in result.items() if k != "history"}))
    run.log_params({"autocast": result["autocast"]})  # what precision auto chose
    run.log_model_curves(result["history"])
    run.log_model_metrics(
        {
            "best_val_loss": result["best_val_loss"],
            "parameters": result["params"],
            "tokens_seen": result["tokens_seen"],
            "steps": result["steps"],
            "train_seconds": time.time() - started,
        }
    )
    run.log_artifact(out.curve)
