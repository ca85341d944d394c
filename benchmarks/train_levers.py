"""What each speed lever of the train step is worth on this CPU, at nanoGPT's CPU shape.

    python benchmarks/train_levers.py [--blocks 6] [--steps 20]

Step time is noisy on a shared VM (the same run reads 35 to 50 ms from one minute to
the next), so every variant lives in one process and they take turns: blocks of
`--steps` full train steps (forward, backward, clip, optimizer), each variant once per
round, `--blocks` rounds; a variant's figure is its median block, and its ratio is
against the nanoGPT baseline's median in the same rounds. Data: the Tiny Shakespeare
shards that benchmarks/shakespeare_race.py leaves in results/bench/race (run it first).

Variants, each minnow's Trainer.train_step at the race's equal shape, batch 12 x 64:
- fp32, and `precision: auto` (bf16 autocast where the CPU has bf16 dot products);
- auto with the projections unfused (q, k, v and gate, up as separate matmuls);
- auto with AdamW's multi-tensor loop instead of its fused kernel;
- auto with Muon for the block matrices;
- auto with torch.compile (steady state: compilation happens before the rounds).
Then two kernels alone: a matmul of the model's shapes, and SDPA forward + backward,
each in fp32 and bf16: why attention stays fp32 under CPU autocast.

With `--tiny-optimizers` (about 8 minutes), the `tiny` preset of config/config.yaml as
the main job trains it (400 steps on the default corpus's shards, which
`snakemake results/shards/default/bpe4k/meta.json` builds), once with AdamW and once
with Muon at two rates: wall time and the val loss at each evaluation.
"""

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from minnow.devices import cpu_has_bf16
from minnow.model import transformer
from minnow.model.param_count import embedding_rows
from minnow.train import loop, optim, settings
from minnow.workflow.config import with_defaults
from shakespeare_race import BASELINE, EQUAL_SHAPE, nanogpt

from bench_common import REPO, cpu_name

DATA = REPO / "results/bench/race/shakespeare"
FUSED_LINEARS = transformer.linears


def unfused_linears(x, *layers):
    return torch.cat([layer(x) for layer in layers], dim=-1)


def minnow_step(train: dict, fused_linears: bool = True, foreach_adamw: bool = False):
    spec = with_defaults(
        "model",
        {"corpus": "c", "tokenizer": "t", **EQUAL_SHAPE, "train": {**EQUAL_SHAPE["train"], "steps": 10**6, **train}},
    )
    model_cfg, cfg = settings.configs(spec, embedding_rows(384))
    trainer = loop.Trainer(model_cfg, cfg, DATA / "shards", DATA / "tok/tokenizer.json", DATA / "levers")
    if foreach_adamw:
        trainer.optimizer = torch.optim.AdamW(
            optim.param_groups(trainer.model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=True
        )
        for group in trainer.optimizer.param_groups:
            group["initial_lr"] = group["lr"]

    def step():
        transformer.linears = FUSED_LINEARS if fused_linears else unfused_linears
        loss, _ = trainer.train_step()
        trainer.step += 1
        return loss

    return step


def baseline_step():
    net = nanogpt(65, BASELINE)
    opt = torch.optim.AdamW(net.parameters(), lr=BASELINE["lr"], betas=(0.9, BASELINE["beta2"]))
    x, y = torch.randint(0, 65, (2, BASELINE["batch"], BASELINE["block"]))

    def step():
        _, loss = net(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return step


VARIANTS = {
    "nanoGPT baseline (fp32)": baseline_step,
    "minnow fp32": lambda: minnow_step({"precision": "fp32"}),
    "minnow auto": lambda: minnow_step({}),
    "minnow auto, projections unfused": lambda: minnow_step({}, fused_linears=False),
    "minnow auto, multi-tensor AdamW (not fused)": lambda: minnow_step({}, foreach_adamw=True),
    "minnow auto, Muon": lambda: minnow_step({"optimizer": "muon"}),
    "minnow auto, torch.compile (steady state)": lambda: minnow_step({"compile": True}),
}


def rounds(blocks: int, steps: int) -> None:
    steps_of = {name: make() for name, make in VARIANTS.items()}
    for step in steps_of.values():  # warm-up, compilation included
        for _ in range(5):
            step().item()
    times = {name: [] for name in steps_of}
    for _ in range(blocks):
        for name, step in steps_of.items():
            start = time.perf_counter()
            for _ in range(steps):
                loss = step()
            loss.item()
            times[name].append((time.perf_counter() - start) / steps)
    base = statistics.median(times["nanoGPT baseline (fp32)"])
    tokens = BASELINE["batch"] * BASELINE["block"]
    print("| variant (batch 12 x 64) | ms/step (median block) | tokens/s | vs baseline |\n|---|---|---|---|")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"| {name} | {median * 1000:.1f} | {tokens / median:,.0f} | {base / median:.2f}x |")


def kernel_ms(fn, repeat: int = 50) -> float:
    for _ in range(5):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def kernels() -> None:
    print("\n| kernel | fp32 ms | bf16 ms | bf16 speed-up |\n|---|---|---|---|")
    a, b = torch.randn(768, 128), torch.randn(128, 344)
    ms = [kernel_ms(lambda x=x, y=y: x @ y) for x, y in ((a, b), (a.bfloat16(), b.bfloat16()))]
    print(f"| matmul 768x128 @ 128x344 | {ms[0]:.3f} | {ms[1]:.3f} | {ms[0] / ms[1]:.2f}x |")
    qkv = torch.randn(3, BASELINE["batch"], 4, BASELINE["block"], 32)

    def attention(dtype):
        q, k, v = (t.to(dtype).requires_grad_() for t in qkv)
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

    ms = [kernel_ms(attention(dtype)) for dtype in (torch.float32, torch.bfloat16)]
    print(f"| SDPA forward + backward, 12 x 4 heads x 64 x 32 | {ms[0]:.3f} | {ms[1]:.3f} | {ms[0] / ms[1]:.2f}x |")


def tiny_optimizers() -> None:
    import tempfile

    import yaml

    results = REPO / "results"
    preset = {
        k: v
        for k, v in yaml.safe_load((REPO / "config/config.yaml").read_text())["models"]["tiny"].items()
        if k != "params"
    }
    print("\n| tiny (400 steps), optimizer | seconds | val loss at each evaluation |\n|---|---|---|")
    for extra in (
        {"optimizer": "adamw"},
        {"optimizer": "muon", "muon_lr": 0.02},
        {"optimizer": "muon", "muon_lr": 0.04},
    ):
        spec = with_defaults("model", {**preset, "train": {**preset["train"], **extra}})
        model_cfg, cfg = settings.configs(spec, embedding_rows(4096))
        trainer = loop.Trainer(
            model_cfg,
            cfg,
            results / "shards/default/bpe4k",
            results / "tokenizers/bpe4k/tokenizer.json",
            Path(tempfile.mkdtemp()),
        )
        start = time.perf_counter()
        val = trainer.run(progress=False)["history"]["val"]
        print(f"| {extra} | {time.perf_counter() - start:.0f} | {', '.join(f'{v:.3f}' for _, v in val)} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tiny-optimizers", action="store_true")
    args = parser.parse_args()
    print(
        f"CPU: {cpu_name()} (bf16 dot products: {'yes' if cpu_has_bf16() else 'no'}); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    rounds(args.blocks, args.steps)
    kernels()
    if args.tiny_optimizers:
        tiny_optimizers()
