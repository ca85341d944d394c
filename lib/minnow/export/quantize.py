"""Weight quantization for export: INT8 per output channel, INT4 in groups of 128, and a mix.

- **int8**: symmetric, one scale per output row: q = round(w / s), s = max|w_row| / 127.
- **int4-g128**: asymmetric, per group of 128 inputs a scale and a zero point:
  q = round(w / s) + z in 0..15, s = (max - min) / 15; two values per byte (even
  index in the low nibble). A row whose length is not a multiple of 128 is padded
  with zeros to the next group and cut back after dequantizing.
- **mixed** (the FishAI layout): embeddings and norms fp16, attention q/k INT8,
  v/o and the FFN INT4-g128 — keys and queries set the attention pattern and are
  the most sensitive to rounding.

The int8 and int4-g128 schemes quantize every matrix, the embedding (which is
also the tied output head) included; norms stay fp16. A quantized file is
safetensors with the scheme and each tensor's method in its metadata, and
`load_quantized` builds a model whose linear layers keep their integer weights
and dequantize in forward, so the full fp32 model is never held at once.
"""

import json
from pathlib import Path

import torch
from torch import nn

from minnow.atomic import atomic_path
from minnow.errors import InputError
from minnow.model.model_folder import stored_state
from minnow.model.transformer import ModelConfig, Transformer, rope_tables

FORMAT = "minnow-quant/1"
GROUP = 128
SCHEMES = ("int8", "int4-g128", "mixed")


def _fp16_scale(scale: torch.Tensor) -> torch.Tensor:
    """The scale as it will be stored: rounding with the fp16 value keeps the error
    within half a step of what dequantizing computes (an all-zero row gets a tiny scale)."""
    return scale.clamp(min=1e-7).to(torch.float16).float()


def quantize_int8(w: torch.Tensor) -> dict[str, torch.Tensor]:
    scale = _fp16_scale(w.abs().amax(dim=1) / 127)
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return {"q": q, "scale": scale.to(torch.float16)}


def dequantize_int8(t: dict[str, torch.Tensor]) -> torch.Tensor:
    return t["q"].float() * t["scale"].float()[:, None]


def pack_nibbles(q: torch.Tensor) -> torch.Tensor:
    """Values 0..15, even count per row, to bytes: even index low nibble, odd index high."""
    return (q[:, 0::2] | (q[:, 1::2] << 4)).to(torch.uint8)


def unpack_nibbles(packed: torch.Tensor) -> torch.Tensor:
    out = torch.empty(packed.shape[0], packed.shape[1] * 2, dtype=torch.uint8)
    out[:, 0::2], out[:, 1::2] = packed & 0x0F, packed >> 4
    return out


def quantize_int4(w: torch.Tensor, group: int = GROUP) -> dict[str, torch.Tensor]:
    rows, cols = w.shape
    padded = -(-cols // group) * group
    g = torch.nn.functional.pad(w, (0, padded - cols)).view(rows, padded // group, group)
    low, high = g.amin(dim=2).clamp(max=0), g.amax(dim=2).clamp(min=0)  # 0 in range: the zero point fits 0..15
    scale = _fp16_scale((high - low) / 15)
    zero = torch.round(-low / scale).clamp(0, 15)
    q = (torch.round(g / scale[..., None]) + zero[..., None]).clamp(0, 15).to(torch.uint8).view(rows, padded)
    return {
        "q": pack_nibbles(q),
        "scale": scale.to(torch.float16),
        "zero": zero.to(torch.uint8),
        "cols": torch.tensor([cols]),
    }


def dequantize_int4(t: dict[str, torch.Tensor], group: int = GROUP) -> torch.Tensor:
    q = unpack_nibbles(t["q"]).float()
    rows = q.shape[0]
    g = q.view(rows, -1, group)
    w = (g - t["zero"].float()[..., None]) * t["scale"].float()[..., None]
    return w.view(rows, -1)[:, : int(t["cols"])]


QUANTIZERS = {"int8": (quantize_int8, dequantize_int8), "int4-g128": (quantize_int4, dequantize_int4)}


def method(name: str, scheme: str) -> str:
    """How a parameter is stored under a scheme: fp16, int8 or int4-g128."""
    if name.endswith("norm.weight"):
        return "fp16"
    if scheme != "mixed":
        return scheme
    if "embed_tokens" in name or name == "lm_head.weight":
        return "fp16"
    return "int8" if name.endswith(("q_proj.weight", "k_proj.weight")) else "int4-g128"


def save_quantized(model: Transformer, scheme: str, out: Path) -> dict:
    """Write `model` quantized by `scheme` to one safetensors file; return per-method counts."""
    from safetensors.torch import save_file

    tensors, methods = {}, {}
    for name, w in stored_state(model).items():
        methods[name] = method(name, scheme)
        if methods[name] == "fp16":
            tensors[name] = w.detach().to(torch.float16).contiguous()
        else:
            for part, value in QUANTIZERS[methods[name]][0](w.detach().float()).items():
                tensors[f"{name}.{part}"] = value.contiguous()
    metadata = {
        "format": FORMAT,
        "scheme": scheme,
        "methods": json.dumps(methods),
        "model_config": json.dumps(model.cfg.to_dict()),
    }
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return {m: sum(1 for v in methods.values() if v == m) for m in set(methods.values())}


class QuantizedLinear(nn.Module):
    """A bias-free linear layer that keeps INT8/INT4 weights and dequantizes per call."""

    def __init__(self, parts: dict[str, torch.Tensor], how: str):
        super().__init__()
        self.how = how
        for key, value in parts.items():
            self.register_buffer(key, value)

    def forward(self, x):
        parts = {k: getattr(self, k) for k in ("q", "scale", "zero", "cols") if hasattr(self, k)}
        return nn.functional.linear(x, QUANTIZERS[self.how][1](parts).to(x.dtype))


def read_quantized(path: Path) -> tuple[dict, dict]:
    """(metadata, tensors) of a quantized export, refusing files that are not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    except Exception as e:  # safetensors raises its own error types for damaged headers and data
        raise InputError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT or meta.get("scheme") not in SCHEMES:
        raise InputError(f"{path}: not a minnow quantized export (format {meta.get('format')!r}, expected {FORMAT!r})")
    return meta, tensors


def _parts(tensors: dict, name: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(f"{name}."): v for k, v in tensors.items() if k.startswith(f"{name}.")}


def load_quantized(path: Path) -> Transformer:
    """A model from a quantized export: linear layers stay quantized, the rest is fp32."""
    meta, tensors = read_quantized(path)
    methods, cfg = json.loads(meta["methods"]), ModelConfig(**json.loads(meta["model_config"]))
    with torch.device("meta"):
        model = Transformer(cfg)
    modules = dict(model.named_modules())
    plain = {}
    for name, how in methods.items():
        module_name = name.removesuffix(".weight")
        if how == "fp16":
            plain[name] = tensors[name].float()
        elif isinstance(modules.get(module_name), nn.Linear):
            parent, _, child = module_name.rpartition(".")
            setattr(modules[parent] if parent else model, child, QuantizedLinear(_parts(tensors, name), how))
        else:  # the embedding: dequantized once, it is looked up, not multiplied
            plain[name] = QUANTIZERS[how][1](_parts(tensors, name))
    model.load_state_dict(plain, strict=False, assign=True)  # the meta tensors left are replaced, not copied into
    if cfg.tie_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.rope_cos, model.rope_sin = rope_tables(cfg)  # non-persistent buffers: rebuilt, not stored
    missing = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if missing:
        raise InputError(f"{path}: no weights for {', '.join(missing[:5])}")
    return model.eval()
