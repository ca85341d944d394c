"""A minnow model's exported Hugging Face folder through lm-evaluation-harness.

Apart from `downstream` (lm-eval itself, and the references) because reading the
folder's document separator takes minnow's tokenizer code: editing that code then
rescores the models, not the cached references.
"""

import json
from pathlib import Path

from minnow.errors import read_json
from minnow.eval.downstream import evaluate
from minnow.tokens import chat_layout


def folder_args(folder: Path) -> dict:
    """lm-eval's `hf` model arguments for an exported Hugging Face folder: its own context,
    documents read after its document separator, as ppl.json scores it."""
    _, start = chat_layout.document_start(folder)
    context = read_json(folder / "config.json", "model config")["max_position_embeddings"]
    return {"pretrained": str(folder), "dtype": "float32", "max_length": context, "prefix_token_id": start}


def model_result(name: str, folder: Path, settings: dict, reference_files: dict[str, Path]) -> dict:
    """downstream.json: the model's scores and each reference's (read from its cached file)."""
    ours = evaluate(name, lambda device: folder_args(folder), settings)
    refs = {}
    for ref, path in reference_files.items():
        result = json.loads(Path(path).read_text())
        refs[ref] = {"skipped": result["skipped"]} if "skipped" in result else {k: result[k] for k in ("tasks", "read")}
    return {
        "model": name,
        **{k: ours[k] for k in ("lm_eval", "read", "tasks")},
        "settings": settings,
        "references": refs,
    }
