"""minnow's pipeline against nanoGPT's CPU recipe for Tiny Shakespeare: time, memory and held-out bits per byte.

    python benchmarks/shakespeare_race.py [--corpora shakespeare wikitext2] [--steps 2000] [--compile]

The baseline is nanoGPT's published CPU recipe (README: "a loss of 1.88 in about
3 minutes"), written here in plain PyTorch as nanoGPT's model.py and train.py have
it: character level, GPT-2 blocks (LayerNorm, GELU MLP of 4x, learned positions,
biases, tied head), 4 layers, 4 heads, 128 wide, block 64, batch 12, AdamW lr 1e-3
with beta2 0.99 and weight decay 0.1, 100 warmup steps, cosine to 1e-4 over 2000
iterations, no dropout, no compile, evaluation every 250 iterations on 20 batches.

minnow's row is what a user gets: `snakemake --cores 2 --configfile config/shakespeare.yaml`
in a fresh copy of the workflow with the corpus at data/shakespeare/input.txt, the
shipped `shakespeare-char` preset as it is. Its time is the train job's benchmark file
(results/benchmarks/train/shakespeare-char.tsv: the whole job, process start to
model folder written), its held-out bits per byte is ppl.json's. On WikiText-2 it is
the same preset on another text (the config's corpus keeps its name, `shakespeare`).

The split is the pipeline's, `val_split: tail` with val_fraction 0.1: the text as the
pipeline reads it (normalised whitespace), cut at the first paragraph start in its
last 10% of bytes, the head trained on, the tail held out. The baseline recomputes
that cut and trains on and is scored on the same bytes; after the pipeline has run,
its eval set must hold exactly the baseline's held-out text, so the two cuts cannot
drift apart unnoticed. One scorer for every row: `score_documents`, the held-out text
as one document in disjoint windows of the model's context (ppl.json's protocol).

Per corpus, in one run:
1. the baseline, in a fresh process (peak RSS its own); timed from building the model
   to the end of training;
2. trainer only: minnow's model and loop at the baseline's shape and step count
   (`precision: auto`), called directly in a fresh process, for speed alone
   (`--compile` adds the same with torch.compile, with an empty and a warm cache);
3. the pipeline: the shipped preset through Snakemake, first the model alone (so
   the train job runs alone), then ppl.json (the SmolLM2 reference beside it).
"""

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench_common import REPO, copy_workflow, cpu_name, in_fresh_process, serve_worker

BIN = Path(sys.executable).parent
SHARED = REPO.parent / "shared" / "data"
CORPORA = {"shakespeare": SHARED / "tinyshakespeare/input.txt", "wikitext2": SHARED / "wikitext-2/valid.txt"}
PRESET, EVAL_SET = "shakespeare-char", "val-shakespeare"  # config/shakespeare.yaml's preset and its val set
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


# --- the split: the pipeline's, recomputed ---------------------------------------------------------------


def corpus_text(path: Path) -> str:
    """The file as the pipeline reads it: one stream document, whitespace normalised
    (trailing spaces, runs of blank lines and the final newline go), so that the baseline
    trains and is scored on the bytes minnow's pipeline holds."""
    from minnow.data.normalize import normalize_text

    return normalize_text(path.read_text(encoding="utf-8"))


def tail_cut(text: str) -> int:
    """The UTF-8 byte at which `val_split: tail` (val_fraction 0.1) cuts a stream: the first
    paragraph start (a non-blank line after a blank one) at or after the first byte of the
    last 10%. Written out here rather than imported, so that `check_same_split` compares
    two computations of the cut, not one with itself."""
    data = text.encode("utf-8")
    first = len(data) - len(data) // 10  # ceil(0.9 * size) in integers, as the split's exact arithmetic has it
    position, previous_blank = 0, True
    for line in data.split(b"\n"):
        blank = not line.decode("utf-8", "replace").strip()
        if position >= first and previous_blank and not blank:
            return position
        previous_blank, position = blank, position + len(line) + 1
    raise SystemExit("no paragraph starts in the last 10% of the text: the tail split would hold out nothing")


def split_text(path: Path) -> tuple[str, str]:
    """(train, held out): the corpus text cut where the pipeline cuts it."""
    data = corpus_text(path).encode("utf-8")
    at = tail_cut(data.decode("utf-8"))
    return data[:at].decode("utf-8"), data[at:].decode("utf-8")


def held_out_bpb(logits_fn, ids: list[int], text: str, start: int, context: int) -> float:
    """Bits per byte of the held-out text as ppl.json scores it: one document from the
    model's start token, in disjoint windows of its context (stride_fraction 1.0)."""
    from minnow.eval.perplexity import score_documents

    return score_documents(logits_fn, [ids], [text], start, context, context)["bits_per_byte"]


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


def nanogpt_lr(it: int, steps: int, cfg: dict) -> float:
    """nanoGPT's get_lr: linear warmup, then cosine to min_lr at the last iteration."""
    if it < cfg["warmup"]:
        return cfg["lr"] * (it + 1) / (cfg["warmup"] + 1)
    ratio = min(1.0, (it - cfg["warmup"]) / (steps - cfg["warmup"]))
    return cfg["min_lr"] + 0.5 * (1 + math.cos(math.pi * ratio)) * (cfg["lr"] - cfg["min_lr"])


def nanogpt_train(model, train: np.ndarray, steps: int, cfg: dict) -> None:
    """nanoGPT's train.py loop: AdamW with decay on matrices only, clip 1.0, its periodic
    estimate_loss (eval_iters batches twice, here both of train) and a loss read every step."""
    import torch

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

    x, y = batch()
    for it in range(steps):
        for group in opt.param_groups:
            group["lr"] = nanogpt_lr(it, steps, cfg)
        if it % cfg["eval_interval"] == 0:
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


def work_baseline(corpus: str, steps: str) -> dict:
    """nanoGPT's recipe on the pipeline's split; its training wall-clock is the race's budget."""
    import torch

    torch.manual_seed(1337)
    train_text, val_text = split_text(CORPORA[corpus])
    chars = sorted(set(train_text + val_text))  # nanoGPT's vocabulary: every character of the file
    index = {c: i for i, c in enumerate(chars)}
    train = np.array([index[c] for c in train_text], dtype=np.uint16)
    cfg, steps = BASELINE, int(steps)
    start = time.perf_counter()
    model = nanogpt(len(chars), cfg)
    nanogpt_train(model, train, steps, cfg)
    seconds = time.perf_counter() - start
    model.eval()
    ids = [index[c] for c in val_text]
    with torch.no_grad():
        bpb = held_out_bpb(lambda t: model(t)[0], ids, val_text, index["\n"], cfg["block"])
    return {
        "seconds": seconds,
        "tokens_per_s": steps * cfg["batch"] * cfg["block"] / seconds,
        "bpb": bpb,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "held_out": val_text,
    }


# --- trainer only: minnow's model and loop called directly, for speed at the baseline's shape -------------


def work_data(corpus: str, folder: str) -> dict:
    """The train and held-out text, each one document, and minnow's character tokenizer
    and shards of them, made once per corpus (apart from the timed train runs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow.tokens import shards, tokenizer

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
    """minnow's TrainJob at a given shape and step count, timed from building the job to the
    model folder written, scored as the baseline is (from minnow's start token, as ppl.json)."""
    import tempfile

    import torch

    from minnow.model.model_folder import load_model
    from minnow.model.param_count import embedding_rows
    from minnow.tokens import tokenizer
    from minnow.train.job import TrainJob
    from minnow.workflow.config import with_defaults

    data = Path(data)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=data))
    tok_json = data / "tok/tokenizer.json"
    spec = json.loads(spec_json)
    spec["train"]["steps"] = int(steps)
    spec = with_defaults("model", {"corpus": corpus, "tokenizer": "chars", **spec})
    start = time.perf_counter()
    job = TrainJob(
        name="race",
        spec=spec,
        vocab_size=embedding_rows(384),
        shards=data / "shards",
        tokenizer_json=tok_json,
        checkpoints=folder / "ckpt",
        weights=folder / "m/model.safetensors",
        config=folder / "m/config.json",
        curve=folder / "m/curve.png",
        summary=folder / "m/summary.json",
    )
    result = job.run(progress=False)
    seconds = time.perf_counter() - start
    model, tok = load_model(folder / "m"), tokenizer.load(tok_json)
    _, val_text = split_text(CORPORA[corpus])
    ids = tok.encode(val_text, add_special_tokens=False).ids
    with torch.no_grad():
        bpb = held_out_bpb(
            lambda t: model(t)[0], ids, val_text, tok.token_to_id(tokenizer.SPECIAL_TOKENS["eos"]), spec["context"]
        )
    return {
        "seconds": seconds,
        "tokens_per_s": result["tokens_seen"] / seconds,
        "bpb": bpb,
        "params": result["params"],
        "steps": result["steps"],
        "autocast": result["autocast"],
    }


WORKERS = {"baseline": work_baseline, "data": work_data, "minnow": work_minnow}


def measure(worker: str, *args: str) -> dict:
    return in_fresh_process(__file__, worker, *args)


# --- the pipeline: the shipped preset through Snakemake, as a user runs it ------------------------------


def workflow_with(corpus: str, folder: Path, recipe_steps: int | None) -> list[str]:
    """A fresh copy of the workflow with the corpus where config/shakespeare.yaml reads it;
    returns the --configfile arguments (the shipped config, and an overlay of the preset's
    steps only when --recipe-steps asks for a short smoke run)."""
    copy_workflow(folder)
    target = folder / "data/shakespeare/input.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPORA[corpus], target)
    if recipe_steps is None:
        return ["config/shakespeare.yaml"]
    warmup = min(100, recipe_steps // 2)
    train = {"steps": recipe_steps, "warmup_steps": warmup, "eval_every": recipe_steps}
    (folder / "race-steps.yaml").write_text(json.dumps({"models": {PRESET: {"train": train}}}))
    return ["config/shakespeare.yaml", "race-steps.yaml"]


def snakemake(folder: Path, configfiles: list[str], target: str) -> float:
    """`snakemake --cores 2 --configfile ... target` in `folder`, as a user types it; its wall-clock."""
    start = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--cores", "2", "--configfile", *configfiles, "--", target],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"snakemake {target} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def train_benchmark(folder: Path) -> dict:
    """The train job's benchmark row (Snakemake's: `s` is the job's wall-clock, `max_rss` its
    peak resident MB, sampled while it runs)."""
    with open(folder / f"results/benchmarks/train/{PRESET}.tsv") as f:
        return next(csv.DictReader(f, delimiter="\t"))


def check_same_split(folder: Path, held_out: str) -> None:
    """Stop unless the pipeline's eval set is exactly the baseline's held-out text, one
    document: the two computations of the cut (tail_cut here, the pipeline's split) must agree."""
    from minnow.eval.eval_sets import read_documents

    documents = read_documents(folder / f"results/eval/{EVAL_SET}.jsonl")
    if documents != [held_out]:
        sizes = [len(d.encode("utf-8")) for d in documents]
        raise SystemExit(
            f"the pipeline held out {len(documents)} document(s) of {sizes} bytes, the baseline "
            f"{len(held_out.encode('utf-8'))} bytes: the two splits differ, the race would compare different text"
        )


def run_pipeline(corpus: str, folder: Path, held_out: str, recipe_steps: int | None) -> dict:
    """The shipped preset through Snakemake: the model first (its train job alone on the
    cores, its benchmark not inflated by the reference job), then ppl.json."""
    configfiles = workflow_with(corpus, folder, recipe_steps)
    whole = snakemake(folder, configfiles, f"results/{PRESET}/model.safetensors")
    snakemake(folder, configfiles, f"results/{PRESET}/ppl.json")
    check_same_split(folder, held_out)
    bench = train_benchmark(folder)
    summary = json.loads((folder / f"results/{PRESET}/train_summary.json").read_text())
    ppl = json.loads((folder / f"results/{PRESET}/ppl.json").read_text())
    seconds = float(bench["s"])
    return {
        "seconds": seconds,
        "tokens_per_s": summary["tokens_seen"] / seconds,
        "bpb": ppl["eval_sets"][EVAL_SET]["model"]["bits_per_byte"],
        "params": summary["params"],
        "steps": summary["steps"],
        "peak_mb": float(bench["max_rss"]),
        "snakemake_s": whole,
    }


# --- the table -------------------------------------------------------------------------------------------

HEADER = (
    "| corpus: run | params | steps | seconds | vs baseline | tokens/s | vs baseline | peak RSS MB | vs baseline | "
    "held-out bits/byte | vs baseline | `snakemake` s |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def row(name: str, r: dict, base: dict) -> str:
    """One table row, each figure beside its ratio (or difference) to the baseline of the same run."""
    whole = f"{r['snakemake_s']:.0f}" if "snakemake_s" in r else ""
    return (
        f"| {name} | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['seconds']:.0f} | "
        f"{r['seconds'] / base['seconds']:.2f}x | {r['tokens_per_s']:,.0f} | "
        f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x | {r['peak_mb']:.0f} | "
        f"{r['peak_mb'] / base['peak_mb']:.2f}x | {r['bpb']:.3f} | {r['bpb'] - base['bpb']:+.3f} | {whole} |"
    )


def trainer_only(corpus: str, folder: Path, steps: int, base: dict, compiled: bool) -> None:
    """The trainer-only rows: minnow's loop at the baseline's shape and steps (and with
    torch.compile, cold then warm cache, if asked), for the speed ratio alone."""
    data = str(folder)
    measure("data", corpus, data)
    equal = measure("minnow", corpus, data, json.dumps(EQUAL_SHAPE), str(steps))
    print(row(f"{corpus}: trainer only, minnow at the baseline's shape and steps ({equal['autocast']})", equal, base))
    if not compiled:
        return
    spec = json.dumps({**EQUAL_SHAPE, "train": {**EQUAL_SHAPE["train"], "compile": True}})
    shutil.rmtree(os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
    for cache in ("cold", "warm"):
        result = measure("minnow", corpus, data, spec, str(steps))
        print(row(f"{corpus}: trainer only, the same + torch.compile, {cache} cache", result, base), flush=True)


def main(work: Path, corpora: list[str], steps: int, compiled: bool, recipe_steps: int | None) -> None:
    import torch

    from minnow.devices import cpu_has_bf16

    print(
        f"CPU: {cpu_name()} (bf16 dot products: {'yes' if cpu_has_bf16() else 'no'}); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; snakemake --cores 2\n\n{HEADER}",
        flush=True,
    )
    for corpus in corpora:
        base = measure("baseline", corpus, str(steps))
        print(row(f"{corpus}: nanoGPT recipe", base, base), flush=True)
        trainer_only(corpus, work / corpus, steps, base, compiled)  # train_levers.py reads its shards
        ours = run_pipeline(corpus, work / corpus / "workflow", base["held_out"], recipe_steps)
        label = "minnow pipeline, `shakespeare-char`" + ("" if corpus == "shakespeare" else " on WikiText-2")
        print(row(f"{corpus}: {label}", ours, base), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--steps", type=int, default=2000, help="the baseline's (and the trainer-only rows') steps")
    parser.add_argument("--work", type=Path, default=Path("results/bench/race"))
    parser.add_argument("--compile", action="store_true", help="add the trainer-only torch.compile rows (cold, warm)")
    parser.add_argument(
        "--recipe-steps", type=int, help="smoke runs only: overlay the preset's steps (the race runs it as shipped)"
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        serve_worker(WORKERS, args.worker)
    else:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(args.work.resolve() / "inductor-cache")
        main(args.work.resolve(), args.corpora, args.steps, args.compile, args.recipe_steps)
