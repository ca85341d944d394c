"""ppl.json: one model's scores on each eval set beside every reference's, on the same bytes."""

import json
import math
from pathlib import Path

from minnow.eval.scoring import score_folder
from minnow.model.model_folder import display_name

PROTOCOL = {
    "documents": "each document scored on its own, from the model's start token",
    "windows": "rolling: the first window predicts `context` tokens, each later one the next "
    "stride_fraction x context tokens with the full context before them (lm-eval's "
    "loglikelihood_rolling at stride_fraction 1.0)",
    "bits_per_byte": "summed NLL over the summed UTF-8 bytes of the documents",
}


def build_ppl_json(
    name: str,
    folder: Path,
    sets: dict[str, Path],
    metas: dict[str, Path],
    references: dict[str, dict[str, Path]],
    protocol: dict,
    init: Path | None = None,
) -> dict:
    """ppl.json's content: per eval set, what it is, our model's metrics, every reference's
    (read from their cached JSON), the init model's (a fine-tune's base, scored here on
    the same documents and in windows no longer than ours, as `init-<name>`) and a ranking
    by bits-per-byte."""
    info = json.loads((Path(folder) / "config.json").read_text())
    ours = score_folder(folder, sets, protocol)
    base = _init_scores(Path(init), sets, protocol, info["max_position_embeddings"]) if init else {}
    entries = {}
    for evalset in sets:
        refs = {ref: json.loads(Path(p).read_text()) for ref, p in references.get(evalset, {}).items()}
        refs |= {f"init-{display_name(init)}": base[evalset]} if init else {}
        entries[evalset] = {
            **json.loads(Path(metas[evalset]).read_text()),
            "model": ours[evalset],
            "references": refs,
            "ranking_bits_per_byte": _ranking(name, ours[evalset], refs),
        }
    model = {
        "name": name,
        "parameters": _parameters(folder),
        "vocab_size": info["vocab_size"],
        "context": info["max_position_embeddings"],
        "device": next(iter(ours.values()))["device"],
        **info.get("minnow_data", {}),
    }
    return {"model": model, "protocol": {**PROTOCOL, **protocol}, "eval_sets": entries}


def _init_scores(folder: Path, sets: dict[str, Path], protocol: dict, context: int) -> dict[str, dict]:
    """The init model's metrics per eval set, shaped as a reference's, in windows of at most
    the fine-tune's `context` (an imported checkpoint's own may be far longer)."""
    scores = score_folder(folder, sets, protocol, context)
    about = {"name": display_name(folder), "init_model": True, "source": str(folder), "parameters": _parameters(folder)}
    return {evalset: {**about, **metrics} for evalset, metrics in scores.items()}


def _parameters(folder: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(Path(folder) / "model.safetensors"), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118 - safe_open is not iterable


def _ranking(name: str, ours: dict, refs: dict) -> list[dict]:
    rows = [{"model": name, "bits_per_byte": ours["bits_per_byte"]}]
    rows += [{"model": r, "bits_per_byte": m["bits_per_byte"]} for r, m in refs.items() if "bits_per_byte" in m]
    return sorted(rows, key=lambda row: row["bits_per_byte"])


def bits_per_byte_columns(ppl: dict) -> dict[str, float]:
    """`<set>.bits_per_byte` of the model and `<set>.<reference>.bits_per_byte` of each
    reference, and each with `.by_source.<source>` before `bits_per_byte` on one source's
    documents: the same names for every model, so MLflow's runs table lines them up."""
    columns = {}
    for name, entry in ppl["eval_sets"].items():
        for prefix, score in ((name, entry["model"]), *((f"{name}.{r}", s) for r, s in entry["references"].items())):
            if "bits_per_byte" in score:
                columns[f"{prefix}.bits_per_byte"] = score["bits_per_byte"]
            for source, by in score.get("by_source", {}).items():
                columns[f"{prefix}.by_source.{source}.bits_per_byte"] = by["bits_per_byte"]
    return columns
