"""The GPUs and nodes each job asks a scheduler for, from the config alone.

Snakemake passes these as `resources:` (a SLURM profile turns them into sbatch
options); locally they cap how many jobs run at once. A train job asks for
`train.gpus` on each of `train.nodes`, one job whose torchrun starts a process per
GPU; scoring, sampling and export run in one process on at most one GPU. The
scoring jobs' memory is `job_memory`'s.
"""


def model_gpus(config: dict, model: str) -> int:
    """GPUs the train job asks for: none for a CPU preset, else `train.gpus` on each of its nodes."""
    train = config["models"][model]["train"]
    return 0 if train["device"] == "cpu" else train["gpus"] * train["nodes"]


def model_nodes(config: dict, model: str) -> int:
    """Nodes the train job asks for: srun starts a torchrun agent on each."""
    return config["models"][model]["train"]["nodes"]


def reference_gpus(config: dict) -> int:
    """A reference is scored where evaluation.device says: on a GPU unless it says cpu."""
    return 0 if config["evaluation"]["device"] == "cpu" else 1


def model_eval_gpus(config: dict, model: str) -> int:
    """Scoring, sampling and export run in one process: at most one GPU, none where the model
    trains on a CPU or evaluation.device is cpu."""
    return min(model_gpus(config, model), reference_gpus(config))
