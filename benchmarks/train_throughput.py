"""Training throughput of minnow's model against a plain-PyTorch baseline of the same model.

    python benchmarks/train_throughput.py [--presets tiny small] [--steps 5]

For each preset (architecture from config/config.yaml) it times full training
steps (forward, backward, clip, AdamW) on random tokens, in this order:
- baseline: the same weights, but attention written out (matmuls, a mask,
  softmax, K/V heads repeated for GQA) and AdamW's per-parameter loop
  (`foreach=False`): no fused kernels, no compile;
- minnow: the model as training runs it (SDPA attention with native GQA,
  fused AdamW; `precision: auto`: bf16 autocast on CUDA and on CPUs with bf16 dot
  products, attention kept in fp32 there; fused q/k/v and gate/up matmuls);
- minnow + torch.compile.
It prints tokens/s, achieved FLOP/s (6 per parameter per token plus attention,
`Transformer.flops_per_token`) and, on GPUs whose peak is known, MFU.
Data loading is left out on purpose: it is the shard reader's job and costs a
memmap slice per row.
"""

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from minnow.devices import autocast_dtype, peak_flops
from minnow.model.param_count import embedding_rows
from minnow.model.transformer import Attention, Transformer, apply_rope
from minnow.train.optim import param_groups
from minnow.train.settings import configs
from minnow.workflow.config import with_defaults

REPO = Path(__file__).resolve().parents[1]
CPU_BATCH = {"tiny": 16, "guppy": 16, "small": 4}  # sequences per step on a 2-core CPU


def naive_attention(self, x, cos, sin, cache=None, layer=0):
    """Attention as a textbook writes it: what SDPA replaces."""
    B, T, _ = x.shape
    q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
    k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
    v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    repeat = self.n_heads // self.n_kv_heads
    k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
    mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    y = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
    return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


def time_steps(model_cfg, batch: int, steps: int, device, variant: str) -> float:
    """Seconds per training step, after two warm-up steps."""
    sdpa = Attention.forward
    if variant == "baseline":
        Attention.forward = naive_attention
    try:
        torch.manual_seed(0)
        model = Transformer(model_cfg).to(device)
        opt = torch.optim.AdamW(
            param_groups(model, 0.1),
            lr=1e-4,
            foreach=variant != "baseline",
            fused=variant != "baseline" and device.type == "cuda",
        )
        run = torch.compile(model) if variant == "compile" else model
        dtype = autocast_dtype(device, "auto") if variant != "baseline" else None
        x = torch.randint(0, model_cfg.vocab_size, (batch, model_cfg.context + 1), device=device)
        for i in range(steps + 2):
            if i == 2:
                sync(device)
                start = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                _, loss = run(x[:, :-1], x[:, 1:])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        sync(device)
        return (time.perf_counter() - start) / steps
    finally:
        Attention.forward = sdpa


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(presets: list[str], steps: int, variants: list[str]) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    peak = peak_flops(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}\n")
    print("| preset | params | batch × context | variant | tokens/s | GFLOP/s | MFU | vs baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for preset in presets:
        spec = config["models"][preset]
        vocab = embedding_rows(config["tokenizers"][spec["tokenizer"]]["vocab_size"])
        model_cfg, train_cfg = configs(with_defaults("model", spec), vocab)
        batch = train_cfg.batch_size if device.type == "cuda" else CPU_BATCH.get(preset, 4)
        tokens = batch * model_cfg.context
        flops = Transformer(model_cfg).flops_per_token()
        base = None
        for variant in variants:
            seconds = time_steps(model_cfg, batch, steps, device, variant)
            base = base or seconds
            mfu = f"{tokens * flops / seconds / peak:.1%}" if peak else "n/a"
            print(
                f"| {preset} | {Transformer(model_cfg).num_params() / 1e6:.1f}M | {batch} × {model_cfg.context} | "
                f"{variant} | {tokens / seconds:,.0f} | {tokens * flops / seconds / 1e9:.1f} | {mfu} | "
                f"{base / seconds:.2f}× |",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["baseline", "minnow", "compile"])
    args = parser.parse_args()
    main(args.presets, args.steps, args.variants)
