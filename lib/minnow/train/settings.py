"""A preset's training settings, and the architecture the train step builds from it.

`TrainConfig` holds the `train:` section; its `identity` is what of it enters the
run's fingerprint; SHAPE_KEYS are the keys that state the architecture. Torch-free,
so that the config checks Snakemake runs while it plans share the facts stated
here (the shape keys; a micro-batch must divide a rank's batch).
"""

from dataclasses import asdict, dataclass
from typing import Literal

from minnow.errors import InputError

# the preset keys that state a model's architecture (transformer.ModelConfig's fields but
# vocab_size: tests/model pins that); a preset must state the first six, or take them from
# the model it starts from
REQUIRED_SHAPE_KEYS = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "context")
SHAPE_KEYS = (*REQUIRED_SHAPE_KEYS, "rope_theta", "norm_eps", "tie_embeddings")

# train settings that change how often a run reports, or how it splits its batch and saves memory,
# but not the weights it computes (beyond rounding): left out of the run's fingerprint
HOW_NOT_WHAT = ("eval_every", "checkpoint_every", "log_every", "compile", "micro_batch", "activation_checkpointing")
# How the global batch is spread over ranks: only batch_size summed over the ranks decides the
# run, so a run resumes on another number of GPUs or nodes that draws the same rows.
SPREAD = ("batch_size", "gpus", "nodes")


@dataclass(frozen=True)
class TrainConfig:
    """A preset's `train:` settings; the defaults are the config schema's."""

    steps: int
    batch_size: int
    grad_accum: int
    lr: float
    min_lr: float
    warmup_steps: int
    weight_decay: float
    beta1: float
    beta2: float
    grad_clip: float
    optimizer: Literal["adamw", "muon"]
    muon_lr: float
    eval_every: int
    eval_batches: int
    checkpoint_every: int
    log_every: int
    precision: Literal["auto", "fp32", "bf16", "fp16"]
    compile: bool
    device: Literal["auto", "cpu", "cuda", "mps"]
    seed: int
    loss_on: Literal["all", "answers"]
    gpus: int
    nodes: int
    parallel: Literal["ddp", "fsdp"]
    micro_batch: int | Literal["auto"] | None
    activation_checkpointing: bool
    freeze_embeddings: bool

    @property
    def rank_rows(self) -> int:
        """Sequences one rank computes per optimizer step: batch_size x grad_accum."""
        return self.batch_size * self.grad_accum

    def identity(self) -> dict:
        """The settings that decide what a run computes (not how often it reports, nor how
        its global batch is split over ranks and forwards or its memory saved: those change
        only rounding)."""
        kept = {k: v for k, v in asdict(self).items() if k not in HOW_NOT_WHAT + SPREAD}
        return kept | {"all_ranks_batch_size": self.batch_size * self.gpus * self.nodes}


def micro_batch_error(train: dict) -> str | None:
    """What is wrong with a `train:` section's micro_batch, if anything: a number of rows
    must divide a rank's batch (batch_size x grad_accum sequences), which it splits."""
    rows, rank_rows = train.get("micro_batch"), train["batch_size"] * train.get("grad_accum", 1)
    if not isinstance(rows, int) or rank_rows % rows == 0:
        return None
    return (
        f"train.micro_batch: {rows} does not divide a rank's batch of batch_size x grad_accum = "
        f"{train['batch_size']} x {train.get('grad_accum', 1)} = {rank_rows} sequences"
    )


def preset_model_config(spec: dict, vocab_size: int):
    """The architecture of a model preset, with `vocab_size` embedding rows."""
    from minnow.model.transformer import ModelConfig

    return ModelConfig(vocab_size=vocab_size, **{k: spec[k] for k in SHAPE_KEYS if k in spec})


def configs(spec: dict, vocab_size: int):
    """(ModelConfig, TrainConfig) from a model preset of the validated workflow config
    (one built by hand gets the schema's defaults from `minnow.workflow.config.with_defaults`)."""
    missing = sorted(set(TrainConfig.__dataclass_fields__) - set(spec["train"]))
    if missing:
        raise InputError(
            f"train settings lack {', '.join(missing)}; fill the schema's defaults with "
            "minnow.workflow.config.with_defaults('model', preset)"
        )
    return preset_model_config(spec, vocab_size), TrainConfig(**spec["train"])
