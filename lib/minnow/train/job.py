"""One train job: what the train step asks for, and the model folder it leaves.

`TrainJob` is the whole request in one value, so the step builds it once and a
multi-GPU run hands the same value to its torchrun workers as JSON. `TrainJob.run`
trains through `loop.Trainer` (which owns the checkpoints) and then writes
what later stages read: the weights and config.json (`model_folder`), the
tokenizer files beside them, the loss curve and the summary. None of this is in
the run's fingerprint, so changing how it is written re-finishes a run from its
last checkpoint instead of training it again.
"""

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch.distributed as dist

from minnow import devices
from minnow.atomic import write_json
from minnow.errors import InputError, read_json
from minnow.model import model_folder
from minnow.model.param_count import embedding_rows
from minnow.tokens import tokenizer
from minnow.train import loop
from minnow.train.plots import loss_curve
from minnow.train.settings import configs
from minnow.train.start import require_init

log = logging.getLogger(__name__)
# passes over the train split past which a run memorises its data more than it learns from it
MOST_PASSES = 10
REAL_DATA = ("config/tinystories.yaml", "config/fineweb-edu.yaml", "config/wikitext103.yaml")


def passes_warning(planned_tokens: int, shards: Path, data: dict) -> str | None:
    """What to say when a run would read its train split more than MOST_PASSES times (the
    default `small` on the default corpus, some 50): it needs a real corpus, not more steps."""
    train = read_json(Path(shards) / "meta.json", "shards index")["splits"]["train"]["tokens"]
    if planned_tokens <= MOST_PASSES * train:
        return None
    return (
        f"train: {planned_tokens / 1e6:.1f}M tokens planned, {planned_tokens / train:.0f} passes over the "
        f"{train / 1e6:.2f}M tokens of corpus {data.get('corpus', '?')}'s train split: the model will learn it by "
        f"heart. Give it real text: snakemake --configfile {' or '.join(REAL_DATA)}"
    )


@dataclass(frozen=True)
class TrainJob:
    name: str
    spec: dict  # the model preset: architecture (or what it states of its init's) and `train:` settings
    vocab_size: int | None  # embedding rows (None: the init model's, else the tokenizer's rounded up to 64)
    shards: Path
    tokenizer_json: Path
    checkpoints: Path  # root; each run gets checkpoints/<fingerprint>/
    weights: Path
    config: Path
    curve: Path
    summary: Path
    data: dict = field(default_factory=dict)  # corpus, tokenizer, lowercase: recorded in config.json
    init: Path | None = None  # the weights a fine-tune starts from (a finished model folder's)

    def to_json(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "TrainJob":
        paths = {f.name for f in dataclasses.fields(cls) if f.type in (Path, Path | None)}
        return cls(**{k: Path(v) if k in paths and v is not None else v for k, v in data.items()})

    def architecture(self) -> tuple[dict, int]:
        """The preset and embedding rows to build: a fine-tune's architecture is its init
        model's, so what the preset leaves out (an imported checkpoint's whole shape) comes
        from the init folder's config.json; a stated `context` is the training window."""
        if self.init is None:
            rows = self.vocab_size or embedding_rows(tokenizer.load(self.tokenizer_json).get_vocab_size())
            return self.spec, rows
        require_init(self.init)
        base = model_folder.model_info(self.init.parent).get("minnow") or {}
        if "vocab_size" not in base:
            raise InputError(f"{self.init.parent / 'config.json'}: not a minnow model config (no 'minnow' entry)")
        return {**base, **self.spec}, base["vocab_size"]

    def run(self, on_metrics=None, threads: int | None = None, progress: bool = True) -> dict:
        """Train (or resume) the job's run and write its model folder; return the summary."""
        devices.init_distributed()
        model_cfg, cfg = configs(*self.architecture())
        trainer = loop.Trainer(
            model_cfg, cfg, self.shards, self.tokenizer_json, self.checkpoints, on_metrics, threads, self.init
        )
        if trainer.rank == 0 and (said := passes_warning(trainer.tokens_per_step * cfg.steps, self.shards, self.data)):
            log.warning(said)
        result = trainer.run(progress)
        final = trainer.final_model()  # gathered from every rank's shard under FSDP
        if devices.rank_and_world()[0] == 0:
            model_folder.save_model(final, self.weights, self.config, trainer.layout.special, self.data)
            tokenizer.copy_files(self.tokenizer_json, self.weights.parent)
            loss_curve(result["history"], self.curve, f"{self.name}: {result['params'] / 1e6:.2f}M parameters")
            write_json(self.summary, result)
        if dist.is_initialized():
            dist.destroy_process_group()
        return result
