"""GGUF files scored by llama.cpp itself, over the perplexity stage's windows.

Reading a GGUF back with transformers dequantizes every tensor and runs PyTorch's
kernels; a user of llama.cpp gets llama.cpp's kernels, which for the quantized
types also round the activations to 8 bits inside each dot product. So the
export stage loads each GGUF file into llama.cpp (through llama-cpp-python),
feeds it minnow's own token ids in the same sliding windows as the perplexity
stage, and reports the bits-per-byte llama.cpp's logits give. llama-cpp-python
is built from source (tools/install_llama_cpp.sh); where it is not installed the
figure is absent and quant.json says why.
"""

import contextlib
from pathlib import Path

import numpy as np
import torch

from minnow import packages
from minnow.devices import cpu_flags
from minnow.errors import InputError
from minnow.eval.scoring import score_logits

NOT_INSTALLED = "llama-cpp-python is not installed (tools/install_llama_cpp.sh builds it)"


def version() -> str | None:
    """The installed llama-cpp-python's version, or None."""
    return packages.version("llama-cpp-python")


@contextlib.contextmanager
def _without_extra_buffers():
    """llama.cpp 0.3.36 crashes in its AMX matmul on every quantized small model (its own
    quantizations too); the extra buffer types (weight repacking) are what route matmuls
    there, so on AMX CPUs they are turned off. The binding fills the model parameters
    inside its constructor, from llama_model_default_params, hence the temporary wrap."""
    import llama_cpp.llama_cpp as lib

    default = lib.llama_model_default_params
    if not any(flag.startswith("amx") for flag in cpu_flags()):
        yield
        return

    def without():
        params = default()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without
    try:
        yield
    finally:
        lib.llama_model_default_params = default


def load(path: str | Path, context: int, threads: int | None = None, logits_all: bool = True):
    """A llama.cpp model over `path` with a context of `context` tokens, quiet."""
    from llama_cpp import Llama

    with _without_extra_buffers():
        try:
            return Llama(
                model_path=str(path),
                n_ctx=context,
                n_batch=context,
                n_ubatch=context,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=logits_all,
                verbose=False,
            )
        except ValueError as e:  # the binding's words for a file llama.cpp refused
            raise InputError(f"{path}: llama.cpp could not load this GGUF file ({e})") from None


def logits_fn(llm):
    """(B, T) token ids -> (B, T, vocab) logits, each row evaluated on its own from an empty
    cache (llama.cpp's context holds one sequence; the padding of short rows is evaluated
    too and never read)."""

    def row(tokens: list[int]) -> torch.Tensor:
        llm.reset()
        llm.eval(tokens)
        return torch.from_numpy(np.array(llm.scores[: len(tokens)]))

    return lambda ids: torch.stack([row(r) for r in ids.tolist()])


def score_gguf(
    path: Path, tok, start: int, eval_set: Path, context: int, windows: dict, threads: int | None = None
) -> dict:
    """llama.cpp's metrics of the GGUF file on `eval_set`, scored as ppl.json scores it (`windows`),
    or {"skipped": why} without llama.cpp."""
    if version() is None:
        return {"skipped": NOT_INSTALLED}
    llm = load(path, context, threads)
    try:
        scores = score_logits(logits_fn(llm), context, tok, start, {"val": eval_set}, windows)["val"]
    finally:
        llm.close()
    return {
        "engine": f"llama-cpp-python {version()}",
        "bits_per_byte": scores["bits_per_byte"],
        "token_perplexity": scores["token_perplexity"],
    }
