"""The export stage: quantized weights with their measured cost, a Hugging Face folder, GGUF files.

Each quantization scheme is saved, loaded back through the same code a user
would run (`quantize.load_quantized`) and scored by the perplexity code on the
model's val eval set, so quant.json reports what a scheme really costs in
bits-per-byte beside what it saves in bytes. The Hugging Face folder is the
model folder as transformers wants it (config.json, model.safetensors, tokenizer
files with the chat template, generation_config.json stopping at a turn's end too),
and the GGUF files are for llama.cpp and ollama: each is scored by llama.cpp
itself on the same windows (`llama_cpp_scoring`), so a GGUF type's cost is what a
llama.cpp user gets, its kernels included.
"""

import math
import shutil
from pathlib import Path

from minnow.atomic import atomic_dir, write_json
from minnow.eval import llama_cpp_scoring
from minnow.eval.scoring import score
from minnow.export import gguf_writer, quantize
from minnow.model import model_folder
from minnow.tokens import chat_layout, tokenizer

HF_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def write_hf_folder(folder: Path, out: Path) -> None:
    """A folder `AutoModelForCausalLM`/`AutoTokenizer.from_pretrained` load with no custom code."""
    info = model_folder.model_info(folder)
    tokenizer_json = Path(folder) / "tokenizer.json"
    layout = chat_layout.read(tokenizer.load(tokenizer_json), tokenizer_json)
    with atomic_dir(out) as tmp:
        for name in HF_FILES:
            shutil.copyfile(Path(folder) / name, tmp / name)
        write_json(
            tmp / "generation_config.json",
            {
                "bos_token_id": info["bos_token_id"],
                "pad_token_id": info["pad_token_id"],
                "eos_token_id": list(dict.fromkeys([info["eos_token_id"], *layout.stops])),  # and a turn's end
            },
        )


def _scores(model, tok, start: int, eval_set: Path, windows: dict) -> dict:
    return score(model, tok, start, {"val": eval_set}, windows)["val"]


def _entry(path: Path, scores: dict, baseline: dict, fp32_bytes: int, fp16_bytes: int) -> dict:
    size = path.stat().st_size
    return {
        "file": path.name,
        "bytes": size,
        "compression_vs_fp32": fp32_bytes / size,
        "compression_vs_fp16": fp16_bytes / size,
        "bits_per_byte": scores["bits_per_byte"],
        "token_perplexity": scores["token_perplexity"],
        "delta_bits_per_byte": scores["bits_per_byte"] - baseline["bits_per_byte"],
        "delta_token_perplexity": scores["token_perplexity"] - baseline["token_perplexity"],
    }


def gguf_file(
    folder: Path, out: Path, dtype: str, tok, start: int, eval_set: Path, protocol: dict, baseline: dict
) -> dict:
    """Write one GGUF type; its entry in quant.json, with llama.cpp's bits-per-byte on the eval set
    (protocol: the model's context, the window protocol and threads)."""
    info = gguf_writer.write_gguf(folder, out, dtype)
    scores = llama_cpp_scoring.score_gguf(out, tok, start, eval_set, **protocol)
    if "bits_per_byte" in scores:
        scores["delta_bits_per_byte"] = scores["bits_per_byte"] - baseline["bits_per_byte"]
    return {"file": out.name, **{k: v for k, v in info.items() if k != "path"}, "llama_cpp": scores}


def export(
    folder: Path,
    eval_set: Path,
    out_dir: Path,
    gguf_types: list[str],
    windows: dict,
    threads: int | None = None,
) -> dict:
    """Write every export of a model folder into out_dir; return quant.json's content. Every
    file is scored on `eval_set` as ppl.json scores it (`windows`: stride_fraction, batch_tokens)."""
    model = model_folder.load_model(folder)
    tok, start = chat_layout.document_start(folder)
    baseline = _scores(model, tok, start, eval_set, windows)  # on evaluation.device
    model = model.cpu()  # quantized and written from host memory
    fp32_bytes = (Path(folder) / "model.safetensors").stat().st_size
    fp16_bytes = 2 * sum(math.prod(t.shape) for t in model_folder.stored_state(model).values())
    schemes = {}
    for scheme in quantize.SCHEMES:
        path = out_dir / f"{scheme}.safetensors"
        layout = quantize.save_quantized(model, scheme, path)
        scores = _scores(quantize.load_quantized(path), tok, start, eval_set, windows)
        schemes[scheme] = {**_entry(path, scores, baseline, fp32_bytes, fp16_bytes), "tensors": layout}
    write_hf_folder(folder, out_dir / "hf")
    protocol = {"context": model.cfg.context, "windows": windows, "threads": threads}
    gguf = {
        t: gguf_file(folder, out_dir / f"model-{t}.gguf", t, tok, start, eval_set, protocol, baseline)
        for t in gguf_types
    }
    return {
        "eval_set": {"documents": str(eval_set), "bytes": baseline["bytes"], **windows},
        "fp32": {
            "file": "model.safetensors",
            "device": baseline["device"],
            "bytes": fp32_bytes,
            "bits_per_byte": baseline["bits_per_byte"],
            "token_perplexity": baseline["token_perplexity"],
        },
        "fp16_bytes": fp16_bytes,
        "schemes": schemes,
        "gguf": gguf,
        "hf": {"folder": "hf", "files": [*HF_FILES, "generation_config.json"]},
    }
