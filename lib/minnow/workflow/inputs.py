"""The files a rule reads, as paths under results/: its input functions, unit-tested here.

A corpus is read as parts (each source's, in the corpus's source order), so most
inputs are one path per part; `config.corpus_parts` says which parts exist.
"""

from minnow.workflow.config import corpus_parts, eval_set_spec, init_folder, model_eval_sets

SPLITS = ("train", "val")


def corpus_split(config: dict, corpus: str, split: str) -> list[str]:
    """The parquet parts of a corpus split (train, val or heldout)."""
    return [f"results/corpus/{corpus}/{split}/{s}/part-{p}.parquet" for s, p in corpus_parts(config, corpus)]


def dedup_input(config: dict, corpus: str) -> dict[str, list[str]]:
    """Every part's survivors, keys and stats, in the corpus's source order."""
    prepared = [f"results/corpus/{corpus}/prepared/{s}/part-{p}" for s, p in corpus_parts(config, corpus)]
    return {
        "survivors": [f"{path}.parquet" for path in prepared],
        "dedup_keys": [f"{path}.keys.parquet" for path in prepared],
        "stats": [f"{path}.json" for path in prepared],
    }


def corpus_index_input(config: dict, corpus: str) -> dict[str, list[str]]:
    """Every mix part of the corpus, per split: corpus.json exists once all of them do."""
    return {split: corpus_split(config, corpus, split) for split in SPLITS}


def tokenizer_input(config: dict, tokenizer: str) -> dict:
    """A trained tokenizer reads its corpus's train split; a pretrained one, its checkpoint (no file here)."""
    corpus = config["tokenizers"][tokenizer].get("corpus")
    if corpus is None:
        return {}
    return {"train": corpus_split(config, corpus, "train"), "stats": f"results/corpus/{corpus}/stats.json"}


def shard_input(config: dict, corpus: str, tokenizer: str) -> dict[str, list[str]]:
    """Every part's shard and counts, per split, for the index."""
    folder, parts = f"results/shards/{corpus}/{tokenizer}", corpus_parts(config, corpus)
    return {
        f"{split}_{suffix}": [f"{folder}/{split}/{s}/part-{p}.{ext}" for s, p in parts]
        for split in SPLITS
        for suffix, ext in (("shards", "bin"), ("counts", "json"))
    }


def eval_set_input(config: dict, evalset: str) -> dict[str, list[str]]:
    """A corpus's eval set reads its held-out parts (every source's, unthinned); another, no file here."""
    spec = eval_set_spec(config, evalset)
    return {"heldout": corpus_split(config, spec["corpus"], "heldout")} if spec["kind"] == "corpus_heldout" else {}


def init_weights(config: dict, model: str) -> list[str]:
    """The finished weights a fine-tune starts from (none for a model trained from scratch):
    an edge, so retraining or reimporting the base retrains its fine-tunes."""
    folder = init_folder(config, model)
    return [f"{folder}/model.safetensors"] if folder else []


def perplexity_input(config: dict, model: str) -> dict:
    """The model, its eval sets and every reference's scores on them (ppl.json sets them side by side)."""
    sets = model_eval_sets(config, model)
    return {
        "weights": f"results/{model}/model.safetensors",
        "tokenizer": f"results/{model}/tokenizer.json",
        "documents": [f"results/eval/{s}.jsonl" for s in sets],
        "metas": [f"results/eval/{s}.json" for s in sets],
        "init": init_weights(config, model),
        "references": [f"results/references/{r}/{s}.json" for s in sets for r in config["references"]],
    }
