"""GGUF types in llama.cpp: size, bits-per-byte as llama.cpp computes it, and generation speed.

    python benchmarks/gguf_llama_cpp.py results/tiny [results/guppy ...] [--tokens 100] [--repeats 3]

For each trained model folder: every GGUF type minnow writes is exported to a
temporary folder, scored by llama.cpp (llama-cpp-python) on the model's val eval
set over the perplexity stage's windows (the same call the export stage makes),
and timed generating `--tokens` tokens greedily (end-of-text banned, so every run
is the same length) from the model's start token. The baseline, measured in the
same run: minnow's own fp32 model on the same text and the same greedy decode
(KV cache, `minnow.inference.generate`). Needs `make llama-cpp`.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from minnow.eval import llama_cpp_scoring
from minnow.eval.scoring import score
from minnow.export.gguf_writer import DTYPES, write_gguf
from minnow.inference.generate import generate
from minnow.model import model_folder
from minnow.tokens import tokenizer

from bench_common import cpu_name

WINDOWS = {"stride_fraction": 1.0}  # ppl.json's default protocol


def eval_text(folder: Path) -> Path:
    """The model's val eval set, as the export stage scores it."""
    corpus = json.loads((folder / "config.json").read_text())["minnow_data"]["corpus"]
    return folder.parent / "eval" / f"val-{corpus}.jsonl"


def best_rate(run, tokens: int, repeats: int) -> float:
    """Tokens per second of the fastest of `repeats` runs (this VM's timings drift)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return tokens / min(times)


def minnow_row(folder: Path, text: Path, tokens: int, repeats: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    model, tok = model_folder.load_model(folder).eval(), tokenizer.load(folder / "tokenizer.json")
    start = [tok.token_to_id(tokenizer.SPECIAL_TOKENS["eos"])]
    bpb = score(model, tok, start[0], {"val": text}, WINDOWS)["val"]["bits_per_byte"]
    rate = best_rate(lambda: generate(model, start, tokens, temperature=0), tokens, repeats)
    return {"bytes": (folder / "model.safetensors").stat().st_size, "bits_per_byte": bpb, "tokens_per_s": rate}


def llama_cpp_row(folder: Path, dtype: str, out: Path, text: Path, tokens: int, repeats: int, threads: int) -> dict:
    tok = tokenizer.load(folder / "tokenizer.json")
    context = model_folder.load_model(folder).cfg.context
    info = write_gguf(folder, out / f"{dtype}.gguf", dtype)
    bpb = llama_cpp_scoring.score_gguf(
        out / f"{dtype}.gguf", tok, tok.token_to_id(tokenizer.SPECIAL_TOKENS["eos"]), text, context, WINDOWS, threads
    )["bits_per_byte"]
    llm = llama_cpp_scoring.load(out / f"{dtype}.gguf", context, threads, logits_all=False)
    marker = {name: tok.token_to_id(token) for name, token in tokenizer.SPECIAL_TOKENS.items()}
    banned = {marker["eos"]: -1e9, marker["end"]: -1e9}

    def run():
        made = llm.create_completion(
            [marker["eos"]], max_tokens=tokens, temperature=0, repeat_penalty=1.0, logit_bias=banned
        )
        assert made["usage"]["completion_tokens"] == tokens, made["usage"]

    rate = best_rate(run, tokens, repeats)
    llm.close()
    return {"bytes": info["bytes"], "bits_per_byte": bpb, "tokens_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if llama_cpp_scoring.version() is None:
        raise SystemExit(llama_cpp_scoring.NOT_INSTALLED)
    print(f"CPU: {cpu_name()}; {args.threads} threads; llama-cpp-python {llama_cpp_scoring.version()}")
    for folder in args.folders:
        text = eval_text(folder)
        tokens = min(args.tokens, model_folder.load_model(folder).cfg.context - 1)
        base = minnow_row(folder, text, tokens, args.repeats, args.threads)
        print(f"\n{folder.name}: {text.stat().st_size:,} bytes of {text.name}, {tokens} generated tokens")
        print(f"{'type':<22}{'bytes':>12}{'bits/byte':>11}{'Δ vs fp32':>11}{'tokens/s':>10}{'× minnow':>10}")
        print(
            f"{'minnow fp32 (baseline)':<22}{base['bytes']:>12,}{base['bits_per_byte']:>11.4f}{0:>11.4f}"
            f"{base['tokens_per_s']:>10.0f}{1:>10.2f}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for dtype in DTYPES:
                row = llama_cpp_row(folder, dtype, Path(tmp), text, tokens, args.repeats, args.threads)
                print(
                    f"{'llama.cpp ' + dtype:<22}{row['bytes']:>12,}{row['bits_per_byte']:>11.4f}"
                    f"{row['bits_per_byte'] - base['bits_per_byte']:>+11.4f}{row['tokens_per_s']:>10.0f}"
                    f"{row['tokens_per_s'] / base['tokens_per_s']:>10.2f}"
                )


if __name__ == "__main__":
    main()
