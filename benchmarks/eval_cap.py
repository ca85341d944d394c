"""How far the headline moves with the eval set's byte cap: bits/byte at each cap and at twice it.

    snakemake --cores 2 results/tiny/ppl.json   # the main job, as README runs it
    python benchmarks/eval_cap.py [--model tiny] [--caps 8000 16000 32000 64000 128000 256000]

Documents are scored on their own (ppl.json's protocol), so a capped set's figure is a
prefix sum of per-document NLLs: each model scores the whole val split once, and
every cap's figure follows exactly (the val split in id order, cut as
`eval_sets.capped` cuts it). The script checks that its figure at the config's cap
equals the model's and each reference's in ppl.json. The goal (issue 20): doubling the
default cap moves no model's figure by more than 0.02 bits/byte.
"""

import argparse
import json
import math
from pathlib import Path

import yaml

from minnow import model_folder, tokenizer
from minnow.eval import eval_sets, perplexity, references

from bench_common import cpu_name


def val_documents(corpus: str) -> list[str]:
    parts = sorted(Path(f"results/corpus/{corpus}/val").glob("*/*.parquet"))
    return list(eval_sets.corpus_val(parts))


def minnow_nll(folder: Path, documents: list[str], windows: dict) -> list[float]:
    model, tok = model_folder.load_model(folder), tokenizer.load(folder / "tokenizer.json")
    ids = [e.ids for e in tok.encode_batch(documents, add_special_tokens=False)]
    stride = max(1, int(model.cfg.context * windows["stride_fraction"]))
    start = tokenizer.special_id(tok, "eos")
    return perplexity.document_nll(
        lambda x: model(x)[0], ids, start, model.cfg.context, stride, windows["batch_tokens"]
    )


def reference_nll(spec: dict, documents: list[str], context: int, windows: dict) -> list[float]:
    model, tok, _ = references.load(spec)
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
    documents = val_documents(corpus)
    size = sum(len(d.encode()) for d in documents)
    print(f"CPU: {cpu_name()}; val-{corpus}: {len(documents)} documents, {size:,} bytes")
    windows = {k: evaluation[k] for k in ("stride_fraction", "batch_tokens")}
    scored = {model: minnow_nll(Path(f"results/{model}"), documents, windows)}
    for name, spec in config["references"].items():
        scored[name] = reference_nll(spec, documents, evaluation["reference_context"], windows)
    entry = ppl["eval_sets"][f"val-{corpus}"]
    shipped = {model: entry["model"], **entry["references"]}
    for name, nll in scored.items():
        got = at_cap(documents, nll, evaluation["max_bytes"])
        assert abs(got - shipped[name]["bits_per_byte"]) < 1e-6, (name, got, shipped[name]["bits_per_byte"])
    print(f"(each figure at the config's cap, {evaluation['max_bytes']:,}, equals ppl.json's)\n")
    print("| cap (bytes) | documents | " + " | ".join(f"{n} bits/byte | Δ at 2× cap" for n in scored) + " |")
    print("|---|---|" + "---|---|" * len(scored))
    for cap in caps:
        cells = []
        for nll in scored.values():
            here, doubled = at_cap(documents, nll, cap), at_cap(documents, nll, 2 * cap)
            cells.append(f"{here:.3f} | {doubled - here:+.3f}")
        print(f"| {cap:,} | {len(eval_sets.capped(documents, cap)[0])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--caps", nargs="+", type=int, default=[8000, 16000, 32000, 64000, 128000])
    args = parser.parse_args()
    main(args.model, args.caps)
