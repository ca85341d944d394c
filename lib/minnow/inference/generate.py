"""Text generation from a trained `model.Transformer`, one token at a time over a KV cache.

The prompt goes through the model once (prefill) and every new token costs a
single-position forward, so generating n tokens is linear in n instead of the
quadratic cost of re-running the whole sequence each step. Sampling draws from
its own `torch.Generator`, seeded per call, so a seed reproduces a sample
without touching (or depending on) the global RNG.

The context is a hard limit, never slid: a prompt longer than the context keeps
its last `context` tokens, and generation ends with finish reason "length" once
the context is full. Callers that want room for an answer trim the prompt first
(see `chat.Assistant`).
"""

import torch

from minnow.model.transformer import KVCache, Transformer


def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Logits with all but the k largest (and any tied with the k-th) set to -inf."""
    if k is None or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Logits outside the nucleus set to -inf: the smallest set of most likely tokens
    whose probabilities sum to at least p (never empty)."""
    if p is None or p >= 1.0:
        return logits
    ranked, order = torch.sort(logits, dim=-1, descending=True)
    probs = ranked.float().softmax(dim=-1)
    mass_above = probs.cumsum(dim=-1) - probs
    drop = torch.zeros_like(mass_above, dtype=torch.bool).scatter(-1, order, mass_above >= p)
    return logits.masked_fill(drop, float("-inf"))


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Top-k, then top-p, as Hugging Face applies them."""
    return top_p_filter(top_k_filter(logits, top_k), top_p)


def apply_repetition_penalty(logits: torch.Tensor, previous_ids, penalty: float) -> torch.Tensor:
    """Logits of tokens already seen made less likely (CTRL, Keskar et al. 2019): a
    positive logit is divided by the penalty, a negative one multiplied."""
    if penalty == 1.0 or not len(previous_ids):
        return logits
    ids = torch.tensor(sorted(set(previous_ids)), device=logits.device)
    seen = logits[..., ids]
    out = logits.clone()
    out[..., ids] = torch.where(seen > 0, seen / penalty, seen * penalty)
    return out


def check_sampling(
    max_tokens: int, temperature: float, top_k: int | None, top_p: float | None, repetition_penalty: float
) -> None:
    """Refuse settings that have no meaning, before any work is done."""
    problems = [
        (max_tokens < 0, f"max_tokens must be >= 0, not {max_tokens}"),
        (temperature < 0, f"temperature must be >= 0, not {temperature}"),
        (top_k is not None and top_k < 1, f"top_k must be >= 1, not {top_k}"),
        (top_p is not None and not 0 < top_p <= 1, f"top_p must be in (0, 1], not {top_p}"),
        (repetition_penalty <= 0, f"repetition_penalty must be > 0, not {repetition_penalty}"),
    ]
    for bad, message in problems:
        if bad:
            raise ValueError(message)


def next_token(
    logits: torch.Tensor,
    previous: list[int],
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    repetition_penalty: float,
    generator: torch.Generator,
) -> int:
    """One token from the last position's logits (vocab,): argmax at temperature 0, else a sample."""
    logits = apply_repetition_penalty(logits.float(), previous, repetition_penalty)
    if temperature == 0:
        return int(logits.argmax())
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _forward_last(model: Transformer, ids: list[int], cache: KVCache, device: torch.device) -> torch.Tensor:
    logits, _ = model(torch.tensor([ids], device=device), cache=cache)
    return logits[0, -1]


def _generator(device: torch.device, seed: int | None) -> torch.Generator:
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


@torch.no_grad()
def generate(
    model: Transformer,
    prompt_ids: list[int],
    max_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    stop_ids=(),
    seed: int | None = None,
) -> tuple[list[int], str]:
    """New token ids after the prompt and why generation ended: "stop" when a stop id
    came (it is not returned), "length" at max_tokens or a full context."""
    check_sampling(max_tokens, temperature, top_k, top_p, repetition_penalty)
    if not prompt_ids:
        raise ValueError("generation needs at least one prompt token")
    model.eval()
    context = model.cfg.context
    prompt = list(prompt_ids)[-context:]
    weights = next(model.parameters())
    cache = KVCache(model.cfg, 1, min(context, len(prompt) + max_tokens), weights.device, weights.dtype)
    generator = _generator(weights.device, seed)
    stops = set(stop_ids)
    seen, new = list(prompt), []
    logits = _forward_last(model, prompt, cache, weights.device)
    while len(new) < max_tokens:
        token = next_token(logits, seen, temperature, top_k, top_p, repetition_penalty, generator)
        if token in stops:
            return new, "stop"
        new.append(token)
        seen.append(token)
        if len(new) == max_tokens or cache.pos == context:
            break
        logits = _forward_last(model, [token], cache, weights.device)
    return new, "length"
