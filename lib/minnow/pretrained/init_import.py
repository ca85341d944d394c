"""A model that starts from a checkpoint outside minnow: the checkpoint as a minnow model folder.

`init: {hf: …}` or `init: {gguf_path | gguf_package + gguf_file}` makes the
import_init stage read the checkpoint through transformers (dequantising a GGUF)
and write it as a model folder: the weights under the same Hugging Face Llama
names minnow uses, config.json, and the checkpoint's own tokenizer (its
`pretrained` tokenizer entry). From there a fine-tune starts exactly as from a
minnow base, is fingerprinted by the folder's weights digest, and is compared
with it on the same documents. The architecture comes from the checkpoint; shape
keys the preset states must agree with it (`context`, the training window, may
be shorter: no weight depends on it). Anything but a plain Llama (biases, RoPE
scaling, another model type) stops with what differs, before anything is written;
what the config does not say is caught by comparing the converted model's logits
and its RoPE angles over the whole context with the checkpoint's.
"""

from pathlib import Path

import torch

from minnow.errors import InputError
from minnow.model import model_folder
from minnow.model.transformer import ModelConfig, Transformer
from minnow.pretrained import loaders
from minnow.tokens import chat_layout, tokenizer

# a converted model must give the checkpoint's logits within this (fp32, a few tokens), and its
# RoPE tables the checkpoint's cos and sin (the same fp32 arithmetic: equal where unscaled)
LOGIT_TOLERANCE, ANGLE_TOLERANCE = 1e-3, 1e-5


def checkpoint_model_config(hf, where: str) -> ModelConfig:
    """minnow's config of a transformers Llama config, or why it is not one minnow can run."""
    if getattr(hf, "model_type", None) != "llama":
        raise InputError(
            f"{where}: not a Llama-architecture checkpoint (model_type {getattr(hf, 'model_type', None)!r}); "
            "minnow starts only from Llama-architecture models"
        )
    theta, rope_type = rope(hf)
    unsupported = {
        f"RoPE scaling ({rope_type})": rope_type != "default",
        "attention biases": getattr(hf, "attention_bias", False),
        "MLP biases": getattr(hf, "mlp_bias", False),
        "a head size other than hidden_size / heads": getattr(hf, "head_dim", None)
        not in (None, hf.hidden_size // hf.num_attention_heads),
    }
    if any(unsupported.values()):
        raise InputError(f"{where}: minnow's Llama has no {', '.join(k for k, v in unsupported.items() if v)}")
    return ModelConfig(
        vocab_size=hf.vocab_size,
        d_model=hf.hidden_size,
        n_layers=hf.num_hidden_layers,
        n_heads=hf.num_attention_heads,
        n_kv_heads=hf.num_key_value_heads,
        ffn_dim=hf.intermediate_size,
        context=hf.max_position_embeddings,
        rope_theta=theta,
        norm_eps=float(hf.rms_norm_eps),
        tie_embeddings=bool(hf.tie_word_embeddings),
    )


def rope(hf) -> tuple[float, str]:
    """A Llama config's RoPE base and scaling kind, as transformers 5 states them
    (`rope_parameters`) or 4 does (`rope_theta`, `rope_scaling`: {"type" or "rope_type": ...})."""
    parameters = getattr(hf, "rope_parameters", None) or {}
    scaling = getattr(hf, "rope_scaling", None) or {}
    kind = parameters.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    return float(parameters.get("rope_theta", getattr(hf, "rope_theta", 10000.0))), kind


def check_stated(cfg: ModelConfig, stated: dict, model: str, where: str) -> None:
    """Shape keys a preset states must equal the checkpoint's (context may only shrink)."""
    have = cfg.to_dict()
    errors = [
        f"models.{model}.{k}: {v} disagrees with its init checkpoint's {have[k]} ({where})"
        for k, v in stated.items()
        if k != "context" and k in have and v != have[k]
    ]
    if stated.get("context", 0) > cfg.context:
        errors.append(f"models.{model}.context: {stated['context']} is past its init checkpoint's {cfg.context}")
    if errors:
        raise InputError("\n".join(errors))


def convert(hf_model, cfg: ModelConfig, where: str) -> Transformer:
    """minnow's model holding the checkpoint's weights, checked to give its logits."""
    ours = Transformer(cfg).eval()
    theirs = hf_model.state_dict()
    missing = [k for k in ours.state_dict() if k not in theirs]
    if missing:
        raise InputError(f"{where}: weights missing for minnow's Llama ({', '.join(missing[:3])}, ...)")
    ours.load_state_dict({k: theirs[k] for k in ours.state_dict()})
    probe = torch.arange(min(16, cfg.vocab_size)).unsqueeze(0)
    with torch.no_grad():
        gap = (ours(probe)[0] - hf_model(probe).logits).abs().max().item()
    if gap > LOGIT_TOLERANCE:
        raise InputError(f"{where}: the converted model's logits differ from the checkpoint's by {gap:.3g}")
    check_rope(hf_model, ours, where)
    return ours


def check_rope(hf_model, ours: Transformer, where: str) -> None:
    """minnow's RoPE angles must be the checkpoint's across its whole context: a scaling the
    config hides shows past its knee (Llama 3's stretches the long wavelengths), where a probe
    of a few tokens cannot see it."""
    positions = torch.linspace(0, ours.cfg.context - 1, 9).long()
    with torch.no_grad():
        cos, sin = hf_model.model.rotary_emb(torch.zeros(1, dtype=torch.float32), positions.unsqueeze(0))
    gap = max((cos[0] - ours.rope_cos[positions]).abs().max(), (sin[0] - ours.rope_sin[positions]).abs().max())
    if gap > ANGLE_TOLERANCE:
        raise InputError(f"{where}: the checkpoint's rotary angles differ from minnow's RoPE by {gap:.3g}")


def import_checkpoint(spec: dict, tokenizer_json: Path, out: Path, stated: dict, model: str) -> dict:
    """Write the checkpoint `spec` as a model folder `out` (weights, config.json, the
    tokenizer from `tokenizer_json`); return what was imported."""
    where = loaders.source(spec)[0]  # a GGUF file that is not there stops here
    try:
        hf_model = loaders.load_model(spec)
    except Exception as e:  # hub errors, unreadable files, unknown architectures: all mean "cannot load"
        raise InputError(f"{where}: the init checkpoint cannot be loaded ({type(e).__name__}: {e})") from None
    cfg = checkpoint_model_config(hf_model.config, where)
    check_stated(cfg, stated, model, where)
    tok = tokenizer.load(tokenizer_json)
    if tok.get_vocab_size() > cfg.vocab_size:
        raise InputError(f"{tokenizer_json}: {tok.get_vocab_size()} tokens, the checkpoint embeds {cfg.vocab_size}")
    layout = chat_layout.read(tok, tokenizer_json)
    ours = convert(hf_model, cfg, where)
    out.mkdir(parents=True, exist_ok=True)
    data = {"name": loaders.name(spec), "source": where}
    model_folder.save_model(ours, out / "model.safetensors", out / "config.json", layout.special, data)
    tokenizer.copy_files(tokenizer_json, out)
    return {"source": where, "parameters": sum(p.numel() for p in ours.parameters()), **cfg.to_dict()}
