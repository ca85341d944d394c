"""Evaluation throughput: windows scored in batches against one forward per window.

    python benchmarks/eval_throughput.py [--documents results/eval/val-default.jsonl]
        [--presets tiny small] [--reference smollm2-135m-instruct-q4_1] [--batch-tokens 4096]

The documents are an eval set as the pipeline writes it (`snakemake results/eval/val-default.jsonl`
makes the default one: 922 short chats and code files). Each model scores every
document on its own with ppl.json's protocol (`perplexity.document_nll`, rolling windows
of its context), twice in one run: one window per forward (the baseline, what the
stage did before) and windows packed `--batch-tokens` to a forward. minnow presets are
built with seeded random weights (speed does not depend on what they learned); a
reference is loaded as the reference stage loads it. The NLLs must agree to 1e-5,
which the script checks. Calls library code directly, not the Snakemake stage.
"""

import argparse
import time
from pathlib import Path

import torch
import yaml

from minnow.eval import eval_sets, perplexity

from bench_common import REPO, cpu_name


def minnow_scorer(preset: str, config: dict, documents: list[str]):
    """(logits_fn, token ids, start id, context, label) of a preset with seeded random weights;
    its ids are the documents' UTF-8 bytes (speed depends on how many tokens, not which)."""
    from minnow.model.param_count import embedding_rows
    from minnow.model.transformer import Transformer
    from minnow.train.settings import preset_model_config

    spec = config["models"][preset]
    cfg = preset_model_config(spec, embedding_rows(config["tokenizers"][spec["tokenizer"]]["vocab_size"]))
    torch.manual_seed(0)
    model = Transformer(cfg).eval()
    ids = [[b % cfg.vocab_size for b in d.encode("utf-8")] for d in documents]
    return (lambda x: model(x)[0]), ids, 0, cfg.context, f"{preset} ({model.num_params() / 1e6:.1f}M, random)"


def reference_scorer(name: str, config: dict, documents: list[str]):
    from minnow.eval import references

    spec = config["references"][name]
    model, tok, info = references.load("reference", spec)
    ids = tok(documents, add_special_tokens=False)["input_ids"]
    context = min(config["evaluation"]["reference_context"], model.config.max_position_embeddings)
    label = f"{name} ({info['parameters'] / 1e6:.0f}M)"
    return (lambda x: model(x).logits), ids, references.start_id(tok, spec), context, label


def timed(scorer, batch_tokens: int) -> tuple[list[float], float]:
    logits_fn, ids, start, context, _ = scorer
    began = time.perf_counter()
    nll = perplexity.document_nll(logits_fn, ids, start, context, context, batch_tokens)
    return nll, sum(map(len, ids)) / (time.perf_counter() - began)


def main(documents_path: Path, presets: list[str], reference: str | None, batch_tokens: int) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    documents = eval_sets.read_documents(documents_path)
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{documents_path}: {len(documents)} documents, {sum(len(d.encode()) for d in documents):,} bytes\n")
    print(f"| model | context | tokens | tokens/s, a forward per window | tokens/s, {batch_tokens} a forward | ratio |")
    print("|---|---|---|---|---|---|")
    scorers = [lambda p=p: minnow_scorer(p, config, documents) for p in presets]
    scorers += [lambda: reference_scorer(reference, config, documents)] if reference else []
    for make in scorers:
        scorer = make()
        one_nll, one = timed(scorer, 1)
        batched_nll, batched = timed(scorer, batch_tokens)
        torch.testing.assert_close(torch.tensor(batched_nll), torch.tensor(one_nll), rtol=1e-5, atol=1e-4)
        tokens = sum(map(len, scorer[1]))
        print(f"| {scorer[4]} | {scorer[3]} | {tokens:,} | {one:,.0f} | {batched:,.0f} | {batched / one:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=Path, default=Path("results/eval/val-default.jsonl"))
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--reference", default="smollm2-135m-instruct-q4_1")
    parser.add_argument("--batch-tokens", type=int, default=perplexity.BATCH_TOKENS)
    args = parser.parse_args()
    main(args.documents, args.presets, args.reference or None, args.batch_tokens)
