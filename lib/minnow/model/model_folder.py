"""A model folder: the finished model as the train stage leaves it and every later stage loads it.

`model.safetensors` with a Hugging Face Llama `config.json` (plus minnow's own
config under the key "minnow" and what it was trained on under "minnow_data"),
beside the tokenizer files, so export, evaluation, chat and `transformers` read
the same folder. Resumable training state lives in `checkpoint`.
"""

import json
from pathlib import Path

import torch

from minnow.atomic import atomic_path
from minnow.errors import InputError, read_json
from minnow.model.transformer import ModelConfig, Transformer


def hf_config(cfg: ModelConfig, special_ids: dict[str, int], data: dict | None = None) -> dict:
    """config.json in the form `transformers` reads as LlamaForCausalLM, plus minnow's
    own model config and what it was trained on (`minnow_data`: corpus, tokenizer,
    lowercase), which chat needs to treat input as training did."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.context,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "tie_word_embeddings": cfg.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": "float32",
        "bos_token_id": special_ids.get("bos"),
        "eos_token_id": special_ids.get("eos"),
        "pad_token_id": special_ids.get("pad"),
        "minnow": cfg.to_dict(),
        "minnow_data": data or {},
    }


def stored_state(model: Transformer) -> dict[str, torch.Tensor]:
    """The tensors a weights file holds: the state dict without a tied head's
    duplicate (safetensors refuses shared tensors; HF re-ties on load)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if model.cfg.tie_embeddings:
        del state["lm_head.weight"]
    return state


def save_model(
    model: Transformer, weights: str | Path, config: str | Path, special_ids: dict[str, int], data: dict | None = None
) -> None:
    """Write final weights (a tied head is stored once, as HF expects) and config.json."""
    from safetensors.torch import save_file

    with atomic_path(weights) as tmp:
        save_file(stored_state(model), str(tmp), metadata={"format": "pt"})
    with atomic_path(config) as tmp:
        tmp.write_text(json.dumps(hf_config(model.cfg, special_ids, data), indent=2) + "\n")


def model_info(folder: str | Path) -> dict:
    """A model folder's config.json."""
    return read_json(Path(folder) / "config.json", "model config")


def display_name(folder: str | Path) -> str:
    """What reports call a model: an imported checkpoint's own name, else its folder's."""
    return model_info(folder).get("minnow_data", {}).get("name") or Path(folder).resolve().name


def load_model(folder: str | Path) -> Transformer:
    """A trained model from a folder holding model.safetensors and config.json."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        cfg = ModelConfig(**json.loads((folder / "config.json").read_text())["minnow"])
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise InputError(f"{folder / 'config.json'}: not a minnow model config ({e})") from None
    model = Transformer(cfg)
    try:
        state = load_file(str(folder / "model.safetensors"))
    except Exception as e:  # a missing file, or safetensors' own SafetensorError
        raise InputError(f"{folder / 'model.safetensors'}: not readable safetensors ({e})") from None
    if cfg.tie_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise InputError(f"{folder / 'model.safetensors'}: weights do not fit config.json ({e})") from None
    return model.eval()
