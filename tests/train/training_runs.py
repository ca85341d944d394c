"""Small seeded training runs the training tests share."""

from conftest import train_job

SPEC = {
    "d_model": 32,
    "n_layers": 2,
    "n_heads": 4,
    "n_kv_heads": 2,
    "ffn_dim": 64,
    "context": 32,
    "train": {
        "steps": 40,
        "batch_size": 8,
        "lr": 3e-3,
        "min_lr": 3e-4,
        "warmup_steps": 5,
        "eval_every": 10,
        "eval_batches": 4,
        "checkpoint_every": 5,
        "device": "cpu",
    },
}


VOCAB = 512


def spec(**train):
    return {**SPEC, "train": {**SPEC["train"], **train}}


def train_in_process(folder, chat_shards, model_spec=None) -> dict:
    return train_job(folder, *chat_shards, model_spec or SPEC, VOCAB).run(progress=False, threads=1)
