"""minnow against nanoGPT's CPU recipe for Tiny Shakespeare: speed, memory and held-out bits per byte.

    python benchmarks/shakespeare_race.py [--corpora shakespeare wikitext2] [--steps 2000]

The baseline is nanoGPT's published CPU recipe (README: "a loss of 1.88 in about
3 minutes"), written here in plain PyTorch as nanoGPT's model.py and train.py have
it: character level, GPT-2 blocks (LayerNorm, GELU MLP of 4x, learned positions,
biases, tied head), 4 layers, 4 heads, 128 wide, block 64, batch 12, AdamW lr 1e-3
with beta2 0.99 and weight decay 0.1, 100 warmup steps, cosine to 1e-4 over 2000
iterations, no dropout, no compile, evaluation every 250 iterations on 20 batches.

Data as nanoGPT splits it: the first 90% of the file to train, the last 10% held
out. Per corpus, in one run, each in a fresh process (so peak RSS is its own):
1. the baseline, whose training wall-clock becomes minnow's budget;
2. minnow at the baseline's shape and step count (the speed ratio alone), with
   `precision: auto` (bf16 autocast on CPUs with bf16 dot products);
3. the same with torch.compile, first with an empty inductor cache (what a first run
   pays) and then with the cache that run left (every later run);
4. minnow's own recipe (config/shakespeare.yaml's `shakespeare-char` preset) for as
   many steps as fit the budget, from two short probe runs (fixed cost and per step),
   refitted once from the run itself if it missed the budget by more than 5%.
Held-out bits per byte comes from one scorer for every model
(`minnow.eval.perplexity.score_text`: sliding windows of the model's context
advancing by half of it, each character scored once, after a newline). Timed:
everything from building the model to the end of training, outputs included.
"""

import argparse
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import REPO, cpu_name, in_fresh_process, serve_worker

SHARED = REPO.parent / "shared" / "data"
CORPORA = {"shakespeare": SHARED / "tinyshakespeare/input.txt", "wikitext2": SHARED / "wikitext-2/valid.txt"}
BASELINE = {
    "n_layer": 4,
    "n_head": 4,
    "n_embd": 128,
    "block": 64,
    "batch": 12,
    "lr": 1e-3,
    "min_lr": 1e-4,
    "warmup": 100,
    "beta2": 0.99,
    "weight_decay": 0.1,
    "eval_interval": 250,
    "eval_iters": 20,
}
# minnow at the baseline's shape: its SwiGLU's three matrices hold as many weights as GELU's two at 4x
EQUAL_SHAPE = {
    "d_model": 128,
    "n_layers": 4,
    "n_heads": 4,
    "n_kv_heads": 4,
    "ffn_dim": 344,
    "context": 64,
    "train": {
        "batch_size": 12,
        "lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 100,
        "beta2": 0.99,
        "weight_decay": 0.1,
        "eval_every": 250,
        "eval_batches": 20,
        "checkpoint_every": 10**9,
        "device": "cpu",
    },
}


def split_text(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


def bits_per_byte(logits_fn, ids: list[int], start: int, text: str, context: int) -> float:
    from minnow.eval.perplexity import score_text

    return score_text(logits_fn, ids, start, text, context, context // 2)["bits_per_byte"]


# --- the baseline: nanoGPT's model and loop ------------------------------------------------------------


def nanogpt(vocab: int, cfg: dict):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"])
            self.c_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"])

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = (
                t.view(B, T, cfg["n_head"], C // cfg["n_head"]).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2)
            )
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            n = cfg["n_embd"]
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(n), Attention(), nn.LayerNorm(n)
            self.mlp = nn.Sequential(nn.Linear(n, 4 * n), nn.GELU(), nn.Linear(4 * n, n))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            n = cfg["n_embd"]
            self.wte, self.wpe = nn.Embedding(vocab, n), nn.Embedding(cfg["block"], n)
            self.h = nn.ModuleList(Block() for _ in range(cfg["n_layer"]))
            self.ln_f, self.lm_head = nn.LayerNorm(n), nn.Linear(n, vocab, bias=False)
            self.wte.weight = self.lm_head.weight
            self.apply(self._init)
            for name, p in self.named_parameters():
                if name.endswith(("c_proj.weight", "mlp.2.weight")):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg["n_layer"]))

        @staticmethod
        def _init(m):
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

        def forward(self, idx, targets=None):
            x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

    return GPT()


def work_baseline(corpus: str, steps: str) -> dict:
    import torch

    torch.manual_seed(1337)
    train_text, val_text = split_text(CORPORA[corpus])
    chars = sorted(set(train_text + val_text))  # nanoGPT's vocabulary: every character of the file
    index = {c: i for i, c in enumerate(chars)}
    train = np.array([index[c] for c in train_text], dtype=np.uint16)
    cfg, steps = BASELINE, int(steps)
    start = time.perf_counter()
    model = nanogpt(len(chars), cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"],
        betas=(0.9, cfg["beta2"]),
    )

    def batch():
        ix = torch.randint(len(train) - cfg["block"], (cfg["batch"],))
        x = torch.stack([torch.from_numpy(train[i : i + cfg["block"]].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(train[i + 1 : i + 1 + cfg["block"]].astype(np.int64)) for i in ix])
        return x, y

    def lr_at(it):
        if it < cfg["warmup"]:
            return cfg["lr"] * (it + 1) / (cfg["warmup"] + 1)
        ratio = min(1.0, (it - cfg["warmup"]) / (steps - cfg["warmup"]))
        return cfg["min_lr"] + 0.5 * (1 + math.cos(math.pi * ratio)) * (cfg["lr"] - cfg["min_lr"])

    x, y = batch()
    for it in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(it)
        if it % cfg["eval_interval"] == 0:  # nanoGPT's estimate_loss: eval_iters batches (of train here)
            model.eval()
            with torch.no_grad():
                for _ in range(2 * cfg["eval_iters"]):
                    model(*batch())
            model.train()
        _, loss = model(x, y)
        x, y = batch()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # log_interval 1
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        bpb = bits_per_byte(lambda t: model(t)[0], [index[c] for c in val_text], index["\n"], val_text, cfg["block"])
    params = sum(p.numel() for p in model.parameters())
    return {
        "seconds": seconds,
        "tokens_per_s": steps * cfg["batch"] * cfg["block"] / seconds,
        "bpb": bpb,
        "params": params,
        "steps": steps,
    }


# --- minnow: its model and loop through the library ----------------------------------------------------


def work_data(corpus: str, folder: str) -> dict:
    """The train and held-out text, each one document, and minnow's character tokenizer
    and shards of them, made once per corpus (apart from the timed train jobs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow import shards, tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    for name, text in zip(("train", "val"), split_text(CORPORA[corpus]), strict=True):
        pq.write_table(
            pa.table({"id": [name], "text": [text], "messages": pa.nulls(1, messages)}), folder / f"{name}.parquet"
        )
    tok = tokenizer.train([folder / "train.parquet"], 384, min_frequency=1, kind="char")
    tokenizer.save(tok, folder / "tok")
    shards.shard(
        folder / "tok/tokenizer.json",
        {s: [folder / f"{s}.parquet"] for s in ("train", "val")},
        folder / "shards",
        1_000_000,
    )
    return {"vocab": tok.get_vocab_size()}


def work_minnow(corpus: str, data: str, spec_json: str, steps: str) -> dict:
    from minnow import tokenizer
    from minnow.model_folder import load_model
    from minnow.train.job import TrainJob
    from minnow.workflow.config import embedding_rows, with_defaults

    data = Path(data)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=data))
    shards, tok_json = data / "shards", data / "tok/tokenizer.json"
    spec = json.loads(spec_json)
    spec["train"]["steps"] = int(steps)
    spec = with_defaults("model", {"corpus": corpus, "tokenizer": "chars", **spec})
    job = TrainJob(
        name="race",
        spec=spec,
        vocab_size=embedding_rows(384),
        shards=shards,
        tokenizer_json=tok_json,
        checkpoints=folder / "ckpt",
        weights=folder / "m/model.safetensors",
        config=folder / "m/config.json",
        curve=folder / "m/curve.png",
        summary=folder / "m/summary.json",
    )
    start = time.perf_counter()
    result = job.run(progress=False)
    seconds = time.perf_counter() - start
    model, tok = load_model(folder / "m"), tokenizer.load(tok_json)
    _, val_text = split_text(CORPORA[corpus])
    import torch

    with torch.no_grad():
        bpb = bits_per_byte(
            lambda t: model(t)[0],
            tok.encode(val_text, add_special_tokens=False).ids,
            tok.token_to_id("\n"),
            val_text,
            spec["context"],
        )
    tokens = result["tokens_seen"]
    return {
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "bpb": bpb,
        "params": result["params"],
        "steps": result["steps"],
        "autocast": result["autocast"],
    }


WORKERS = {"baseline": work_baseline, "data": work_data, "minnow": work_minnow}


def measure(worker: str, *args: str) -> dict:
    return in_fresh_process(__file__, worker, *args)


def recipe() -> dict:
    """minnow's own recipe for a character model on a CPU: config/shakespeare.yaml's `shakespeare-char` preset."""
    import yaml

    preset = yaml.safe_load((REPO / "config/shakespeare.yaml").read_text())["models"]["shakespeare-char"]
    return {k: v for k, v in preset.items() if k not in ("corpus", "tokenizer", "params")}


def row(name: str, r: dict, base: dict) -> str:
    return (
        f"| {name} | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['seconds']:.0f} | {r['tokens_per_s']:,.0f} | "
        f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x | {r['peak_mb']:.0f} | "
        f"{r['peak_mb'] / base['peak_mb']:.2f}x | {r['bpb']:.3f} | {r['bpb'] - base['bpb']:+.3f} |"
    )


def at_budget(corpus: str, data: str, spec: dict, budget: float) -> dict:
    """minnow's recipe for as many steps as fit `budget` seconds: fitted from two short probes
    (fixed cost apart from per-step cost), refitted once from the run itself if it missed by >5%."""
    short, long = (measure("minnow", corpus, data, json.dumps(spec), str(n)) for n in (50, 250))
    per_step = (long["seconds"] - short["seconds"]) / 200
    fixed = short["seconds"] - 50 * per_step
    result = measure("minnow", corpus, data, json.dumps(spec), str(int((budget - fixed) / per_step)))
    if abs(result["seconds"] - budget) > 0.05 * budget:
        steps = int(result["steps"] * (budget - fixed) / (result["seconds"] - fixed))
        result = measure("minnow", corpus, data, json.dumps(spec), str(steps))
    return result


def main(work: Path, corpora: list[str], steps: int) -> None:
    import torch

    from minnow.devices import cpu_has_bf16

    print(
        f"CPU: {cpu_name()} (bf16 dot products: {'yes' if cpu_has_bf16() else 'no'}); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(
        "| corpus: run | params | steps | seconds | tokens/s | vs baseline | peak RSS MB | vs baseline | "
        "held-out bits/byte | vs baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    compiled = {**EQUAL_SHAPE, "train": {**EQUAL_SHAPE["train"], "compile": True}}
    for corpus in corpora:
        data = str(work / corpus)
        measure("data", corpus, data)
        base = measure("baseline", corpus, str(steps))
        print(row(f"{corpus}: nanoGPT recipe", base, base), flush=True)
        equal = measure("minnow", corpus, data, json.dumps(EQUAL_SHAPE), str(steps))
        print(row(f"{corpus}: minnow, equal shape and steps ({equal['autocast']})", equal, base), flush=True)
        shutil.rmtree(os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
        for cache in ("cold", "warm"):
            result = measure("minnow", corpus, data, json.dumps(compiled), str(steps))
            print(row(f"{corpus}: the same + torch.compile, {cache} cache", result, base), flush=True)
        ours = at_budget(corpus, data, recipe(), base["seconds"])
        print(row(f"{corpus}: minnow recipe at the baseline's wall-clock", ours, base), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=Path("results/bench/race"))
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        serve_worker(WORKERS, args.worker)
    else:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(args.work.resolve() / "inductor-cache")
        main(args.work.resolve(), args.corpora, args.steps)
