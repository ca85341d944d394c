"""How far each source's figure moves with the per-source byte cap: bits/byte at each cap and at twice it.

    snakemake --cores 2 results/tiny/ppl.json   # the main job, as README runs it
    python benchmarks/eval_cap.py [--model tiny] [--caps 8000 16000 32000 64000 128000]

A corpus's eval set holds each source's held-out documents, in id order, capped on its
own (`evaluation.max_bytes`). Documents are scored on their own (ppl.json's protocol),
so a source's figure at any cap is a prefix sum of per-document NLLs: each model scores
every held-out document once, and every cap's figure follows exactly (cut as
`eval_sets.capped` cuts it). The script checks that its figures at the config's cap equal
ppl.json's, per source, for the model and each reference. The goal: doubling the
default cap moves no model's figure on any source by more than 0.02 bits/byte, or the
source is scored whole.
"""

import argparse
import json
import math
from pathlib import Path

import yaml

from minnow.eval import eval_sets, perplexity, references
from minnow.model import model_folder
from minnow.tokens import chat_layout, tokenizer

from bench_common import cpu_name


def heldout_documents(corpus: str) -> dict[str, list[str]]:
    """Each source's held-out documents in id order, uncapped."""
    parts = sorted(Path(f"results/corpus/{corpus}/heldout").glob("*/*.parquet"))
    return {source: docs for source, docs, _ in eval_sets.corpus_heldout(parts, 10**12)}


def minnow_nll(folder: Path, documents: list[str], windows: dict) -> list[float]:
    model, tok = model_folder.load_model(folder), tokenizer.load(folder / "tokenizer.json")
    ids = [e.ids for e in tok.encode_batch(documents, add_special_tokens=False)]
    stride = max(1, int(model.cfg.context * windows["stride_fraction"]))
    start = chat_layout.read(tok, folder / "tokenizer.json").document_end
    return perplexity.document_nll(
        lambda x: model(x)[0], ids, start, model.cfg.context, stride, windows["batch_tokens"]
    )


def reference_nll(spec: dict, documents: list[str], context: int, windows: dict) -> list[float]:
    model, tok, _ = references.load("reference", spec)
    context = min(context, model.config.max_position_embeddings)
    stride = max(1, int(context * windows["stride_fraction"]))
    ids = tok(documents, add_special_tokens=False)["input_ids"]
    start = references.start_id(tok, spec)
    return perplexity.document_nll(lambda x: model(x).logits, ids, start, context, stride, windows["batch_tokens"])


def at_cap(documents: list[str], nll: list[float], cap: int) -> float:
    kept, _ = eval_sets.capped(documents, cap)
    return math.fsum(nll[: len(kept)]) / math.log(2) / sum(len(d.encode()) for d in kept)


def main(model: str, caps: list[int]) -> None:
    config = yaml.safe_load(Path("config/config.yaml").read_text())
    evaluation = config["evaluation"]
    ppl = json.loads(Path(f"results/{model}/ppl.json").read_text())
    corpus = ppl["model"]["corpus"]
    windows = {k: evaluation[k] for k in ("stride_fraction", "batch_tokens")}
    entry = ppl["eval_sets"][f"val-{corpus}"]
    shipped = {model: entry["model"], **entry["references"]}
    print(f"CPU: {cpu_name()}; the held-out documents of corpus {corpus}, each source scored whole\n")
    for source, documents in heldout_documents(corpus).items():
        everything = sum(len(d.encode()) for d in documents)
        print(f"### {source}: {len(documents)} documents, {everything:,} bytes\n")
        scored = {model: minnow_nll(Path(f"results/{model}"), documents, windows)}
        for name, spec in config["references"].items():
            scored[name] = reference_nll(spec, documents, evaluation["reference_context"], windows)
        for name, nll in scored.items():
            got = at_cap(documents, nll, evaluation["max_bytes"])
            assert abs(got - shipped[name]["by_source"][source]["bits_per_byte"]) < 1e-6, (name, source, got)
        print("| cap (bytes) | documents | " + " | ".join(f"{n} bits/byte | Δ at 2× cap" for n in scored) + " |")
        print("|---|---|" + "---|---|" * len(scored))
        for cap in [c for c in caps if c < everything] + [everything]:
            cells = []
            for nll in scored.values():
                here, doubled = at_cap(documents, nll, cap), at_cap(documents, nll, 2 * cap)
                cells.append(f"{here:.3f} | {doubled - here:+.3f}")
            label = f"{cap:,}" if cap < everything else f"all ({cap:,})"
            print(f"| {label} | {len(eval_sets.capped(documents, cap)[0])} | " + " | ".join(cells) + " |", flush=True)
        print()
    print(f"(each figure at the config's cap, {evaluation['max_bytes']:,}, equals ppl.json's)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--caps", nargs="+", type=int, default=[8000, 16000, 32000, 64000, 128000])
    args = parser.parse_args()
    main(args.model, args.caps)
