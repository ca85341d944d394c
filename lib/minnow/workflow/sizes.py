"""How big a model is, while Snakemake plans: what a scoring job's memory request is computed from.

Read from the config (a preset's shape) or from a checkpoint's files on this
machine (a GGUF's tensor table and metadata, safetensors headers and
config.json), never by loading a model, and torch-free, so that planning stays
quick. Plan-time code: no step's code digest includes it, so changing it reruns
nothing.
"""

import json
import math
from pathlib import Path
from typing import NamedTuple

from minnow import digests
from minnow.model.param_count import embedding_rows, parameters
from minnow.pretrained import loaders
from minnow.workflow.config import init_chain, init_checkpoint, model_shape


class Size(NamedTuple):
    parameters: int
    vocab: int
    context: int | None  # the most positions the model reads (None: not stated in its files)


def checkpoint_size(spec: dict, cache: str | Path) -> Size | None:
    """A checkpoint's size from its files on this machine (a GGUF's tables, cached in
    `cache`; safetensors headers and config.json), or None where its files are not here
    (a hub model not yet downloaded)."""
    if "hf" not in spec:
        path = loaders.gguf_path(spec)
        if not path.is_file():
            return None
        found = digests.per_file([str(path)], cache, _gguf_size)[str(path)]
        return Size(*found) if found != digests.MISSING else None
    folder = _local_folder(spec)
    weights = sorted(folder.glob("*.safetensors")) if folder else []
    if not weights or not (folder / "config.json").is_file():
        return None
    from safetensors import safe_open

    parameters = 0
    for file in weights:
        with safe_open(file, "np") as f:
            parameters += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118 - safe_open is not iterable
    config = json.loads((folder / "config.json").read_text())
    return Size(parameters, config["vocab_size"], config.get("max_position_embeddings"))


def _gguf_size(path: str) -> list:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    architecture = reader.fields["general.architecture"].contents()
    context = reader.fields.get(f"{architecture}.context_length")
    return [
        sum(int(t.n_elements) for t in reader.tensors),
        len(reader.fields["tokenizer.ggml.tokens"].data),
        int(context.contents()) if context else None,
    ]


def _local_folder(spec: dict) -> Path | None:
    """Where an hf checkpoint's files are on this machine: its own folder, or its
    snapshot in the Hugging Face cache (None where it has not been downloaded)."""
    if Path(spec["hf"]).is_dir():
        return Path(spec["hf"])
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec["hf"], "config.json", revision=spec.get("revision"))
    return Path(found).parent if isinstance(found, str) else None


def model_size(config: dict, model: str, cache: str | Path) -> Size | None:
    """A preset's size: the checkpoint's its init chain starts from, else from its shape and
    its tokenizer's vocab_size (a pretrained tokenizer's checkpoint's rows: at least its
    tokenizer's); None where a checkpoint's files are not here to read. Its context is the
    one the chain states, else the checkpoint's, as the train step builds it."""
    stated = model_shape(config, model)
    if checkpoint := init_checkpoint(config, init_chain(config, model)[-1]):
        found = checkpoint_size(checkpoint, cache)
        return found and found._replace(context=stated.get("context", found.context))
    tokenizer = config["tokenizers"][config["models"][model]["tokenizer"]]
    if tokenizer.get("kind") == "pretrained":
        found = checkpoint_size(tokenizer["from"], cache)
        vocab = found and embedding_rows(found.vocab)
    else:
        vocab = embedding_rows(tokenizer["vocab_size"])
    if not vocab:
        return None
    return Size(parameters(vocab, stated), vocab, stated["context"])
