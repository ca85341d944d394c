"""On a CUDA machine: tokens/s and MFU of `tiny` and `small` with bf16, torch.compile and
fused AdamW, and their loss curves checked against the CPU path at the same seed.

    bash benchmarks/gpu_check.sh            # builds the default corpus's shards, then runs this
    python benchmarks/gpu_check.py --steps 300 --cpu-steps 20

Per preset: `--steps` steps on the GPU (bf16 autocast, compile, fused AdamW), then the
first `--cpu-steps` of the same run on the CPU in fp32 (same seed, same batches). Tokens/s
and MFU are the GPU run's after its first log interval (compilation excluded, reported
apart). The curves must agree within noise: the mean train loss of the steps both ran
differs by less than `--tolerance` (bf16 against fp32 differs in the third decimal).
`--cpu-steps` stays within every preset's warmup, where the learning rate of a step does
not depend on the run's length, so the short CPU run and the long GPU run see the same.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

from minnow.train import loop
from minnow.workflow.config import embedding_rows, with_defaults

from bench_common import REPO, cpu_name

RESULTS = REPO / "results"


def preset(name: str, steps: int, device: str, precision: str, compile_: bool) -> tuple:
    """The preset's model and train configs, with this check's steps and device, and its tokenizer's name."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    spec = {k: v for k, v in config["models"][name].items() if k != "params"}
    spec["train"] = {
        **spec["train"],
        "steps": steps,
        "device": device,
        "precision": precision,
        "compile": compile_,
        "eval_every": 10**6,
        "checkpoint_every": 10**6,
        "log_every": 10,
    }
    spec = with_defaults("model", spec)
    rows = embedding_rows(config["tokenizers"][spec["tokenizer"]]["vocab_size"])
    return (*loop.configs(spec, rows), spec["tokenizer"])


def train(name: str, steps: int, device: str, precision: str, compile_: bool) -> dict:
    """Train a fresh run; its per-step losses, and tokens/s and MFU after the first report
    (which holds compilation)."""
    model_cfg, cfg, tok = preset(name, steps, device, precision, compile_)
    reports = []
    with tempfile.TemporaryDirectory() as checkpoints:
        trainer = loop.Trainer(
            model_cfg,
            cfg,
            RESULTS / "shards/default" / tok,
            RESULTS / "tokenizers" / tok / "tokenizer.json",
            Path(checkpoints),
            lambda step, metrics: reports.append(metrics),
        )
        result = trainer.run(progress=False)
    steady = reports[1:]
    return {
        "losses": [loss for _, loss in result["history"]["train"]],
        "tokens_per_s": float(np.mean([m["tokens_per_s"] for m in steady])),
        "mfu": float(np.mean([m["mfu"] for m in steady])) if "mfu" in steady[0] else None,
    }


def main(presets: list[str], steps: int, cpu_steps: int, tolerance: float) -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU")
        return 2
    print(f"GPU: {torch.cuda.get_device_name()}; CPU: {cpu_name()}; torch {torch.__version__}\n")
    print("| preset | GPU steps | tokens/s | MFU | CPU fp32 steps | mean loss GPU | mean loss CPU | diff | agrees |")
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name in presets:
        if cpu_steps > preset(name, steps, "cpu", "fp32", False)[1].warmup_steps:
            raise SystemExit(f"--cpu-steps {cpu_steps} exceeds {name}'s warmup: the two runs' rates would differ")
        gpu = train(name, steps, "cuda", "bf16", True)
        cpu = train(name, cpu_steps, "cpu", "fp32", False)
        a, b = np.mean(gpu["losses"][:cpu_steps]), np.mean(cpu["losses"])
        ok = abs(a - b) < tolerance
        failed |= not ok
        mfu = f"{gpu['mfu']:.1%}" if gpu["mfu"] is not None else "n/a"
        print(
            f"| {name} | {steps} | {gpu['tokens_per_s']:,.0f} | {mfu} | {cpu_steps} | {a:.4f} | {b:.4f} | "
            f"{a - b:+.4f} | {'yes' if ok else 'NO'} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cpu-steps", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=0.02)
    args = parser.parse_args()
    sys.exit(main(args.presets, args.steps, args.cpu_steps, args.tolerance))
