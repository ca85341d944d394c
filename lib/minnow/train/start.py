"""Where a fine-tune starts: a finished model's weights, loaded into the model before training.

Read here with safetensors rather than through `model_folder`, whose writer is not
code that shapes the weights: changing it must not start every fine-tune over.
"""

import logging
from pathlib import Path

from minnow.errors import InputError
from minnow.model.transformer import Transformer

log = logging.getLogger(__name__)


def require_init(init: Path) -> None:
    if not Path(init).is_file():
        raise InputError(f"{init}: the init model's weights are missing (train or import that model first)")


def start_from(model: Transformer, init: Path) -> None:
    """Load a finished model's weights (`init`: its model.safetensors, a tied head stored
    once) into `model`, refusing weights of another shape with what differs."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(init))
    except Exception as e:  # a missing file, or safetensors' own SafetensorError
        raise InputError(f"{init}: the init model's weights are not readable safetensors ({e})") from None
    if model.cfg.tie_embeddings and "model.embed_tokens.weight" in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    ours = model.state_dict()
    differ = [
        f"{k} {tuple(v.shape)} (init) vs {tuple(ours[k].shape)}"
        for k, v in state.items()
        if k in ours and v.shape != ours[k].shape
    ]
    missing = sorted(set(ours) - set(state))
    if differ or missing or set(state) - set(ours):
        detail = "; ".join(differ[:3] + ([f"missing {', '.join(missing[:3])}"] if missing else []))
        raise InputError(f"{init}: the init model is another architecture ({detail or 'other tensors'})")
    model.load_state_dict(state)
    log.info("starting from %s", init)
