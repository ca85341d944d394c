"""A Llama-style decoder-only transformer, the whole model in one file.

RoPE (frequencies computed once per model and shared by every layer), pre-norm
RMSNorm, SwiGLU feed-forward, grouped-query attention through
`torch.nn.functional.scaled_dot_product_attention`, no biases, an optional
embedding tied to the LM head, and a KV cache for incremental decoding.

Parameter names and shapes are those of Hugging Face `LlamaForCausalLM`
(`model.layers.0.self_attn.q_proj.weight`, ...), and RoPE uses its rotate-half
layout, so a state dict moves between the two without renaming or permuting.
Two speed-ups live here: `linears` runs the q/k/v projections, and SwiGLU's gate and
up projections, as one matmul each over their stacked weights; and `attend` keeps
attention in fp32 under CPU autocast. The rest (`torch.compile`, fused AdamW, autocast
itself) belongs to the training loop in `train/`, not here. With `checkpointing` set,
training keeps only each block's input and recomputes the block in the backward pass:
less memory for about a third more compute.
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    context: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True

    def __post_init__(self):
        if self.d_model % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must divide by n_heads ({self.n_heads}), "
                f"and n_heads by n_kv_heads ({self.n_kv_heads})"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # normalise in fp32 as Llama does: bf16 sums of squares lose too much
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rope_tables(cfg: ModelConfig, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, each (context, head_dim), in Llama's rotate-half layout."""
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, device=device).float() / cfg.head_dim))
    angles = torch.outer(torch.arange(cfg.context, device=device).float(), inv_freq)  # (T, hd/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, hd)
    return angles.cos(), angles.sin()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def apply_rope(x, cos, sin):
    """Rotate (B, nh, T, hd) queries or keys by their positions' angles (T, hd)."""
    return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)


class KVCache:
    """Keys and values of the tokens seen so far, per layer, preallocated to a length."""

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, device=None, dtype=torch.float32):
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.pos = 0  # tokens already cached

    def update(self, layer: int, k, v):
        """Store this step's (B, nkv, T, hd) keys/values; return all cached so far."""
        end = self.pos + k.shape[2]
        if end > self.k[layer].shape[2]:
            raise ValueError(f"KV cache holds {self.k[layer].shape[2]} tokens; {end} requested")
        self.k[layer][:, :, self.pos : end] = k.to(self.k[layer].dtype)
        self.v[layer][:, :, self.pos : end] = v.to(self.v[layer].dtype)
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache: KVCache | None = None, layer: int = 0):
        B, T, _ = x.shape
        kv_width = self.n_kv_heads * self.head_dim
        q, k, v = linears(x, self.q_proj, self.k_proj, self.v_proj).split(
            [self.n_heads * self.head_dim, kv_width, kv_width], dim=-1
        )
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, T, hd)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        past = 0
        if cache is not None:
            past = cache.pos
            k, v = cache.update(layer, k, v)
        y = attend(q, k, v, causal_mask(T, past, x.device), past == 0 and T > 1, self.n_kv_heads != self.n_heads)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))  # (B, T, d_model)


def linears(x, *layers: nn.Module) -> torch.Tensor:
    """Several bias-free projections of one input, concatenated: as one matmul of their
    stacked weights where they are plain nn.Linear (on a CPU, fewer and larger ops train a
    small model about 10% faster), else each in turn (quantized layers)."""
    if all(type(layer) is nn.Linear for layer in layers):
        return F.linear(x, torch.cat([layer.weight for layer in layers]))
    return torch.cat([layer(x) for layer in layers], dim=-1)


def attend(q, k, v, mask, is_causal: bool, gqa: bool):
    """SDPA; in fp32 under CPU autocast, where PyTorch's flash-attention backward in bf16
    runs about 3x slower than in fp32 (docs/BENCHMARKS.md, "The levers"), while bf16 matmuls
    run twice as fast: so the projections take bf16 and attention does not."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), attn_mask=mask, is_causal=is_causal, enable_gqa=gqa
            ).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=gqa)


def causal_mask(t_new: int, past: int, device) -> torch.Tensor | None:
    """Mask for t_new queries after `past` cached tokens; None where SDPA needs none."""
    if past == 0 or t_new == 1:
        return None  # plain causal (handled by is_causal) or one query that may see everything
    keys = torch.arange(past + t_new, device=device)
    return keys[None, :] <= (past + torch.arange(t_new, device=device))[:, None]  # (t_new, past + t_new)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)

    def forward(self, x):
        gate, up = linears(x, self.gate_proj, self.up_proj).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache=None, layer=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    """Embedding, blocks and final norm: HF's `LlamaModel`, under the name `model`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.checkpointing = False  # activation checkpointing: a training setting, not the architecture
        self.model = Body(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # depth-scaled init (GPT-2): each residual branch adds variance, so the
        # projections writing into the stream start smaller in deeper models
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, embeddings: bool = True) -> int:
        """Parameters counted once (a tied head is the embedding); optionally without it."""
        total = sum(p.numel() for p in self.parameters())
        return total if embeddings else total - self.model.embed_tokens.weight.numel()

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """Logits (B, T, vocab) for token ids (B, T); with targets, also the mean loss
        over positions whose target is not -100."""
        T = idx.shape[1]
        start = cache.pos if cache is not None else 0
        if start + T > self.cfg.context:
            raise ValueError(f"sequence of {start + T} tokens exceeds the model's context of {self.cfg.context}")
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        x = self.model.embed_tokens(idx)
        recompute = self.checkpointing and cache is None and torch.is_grad_enabled()
        for i, block in enumerate(self.model.layers):
            x = checkpoint(block, x, cos, sin, use_reentrant=False) if recompute else block(x, cos, sin, cache, i)
        if cache is not None:
            cache.pos += T
        logits = self.lm_head(self.model.norm(x))
        if targets is None:
            return logits, None
        flat = targets.reshape(-1)
        # summed then divided, so a batch with no counted target (an answers-only batch
        # that caught no answer) gives 0, not NaN
        total = F.cross_entropy(logits.float().view(-1, logits.size(-1)), flat, ignore_index=-100, reduction="sum")
        return logits, total / (flat != -100).sum().clamp(min=1)

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6 per weight, plus attention scores (PaLM appendix B)."""
        c = self.cfg
        head = c.vocab_size * c.d_model if c.tie_embeddings else 0  # a tied head is a matmul the count above misses
        return 6 * (self.num_params(embeddings=False) + head) + 12 * c.n_layers * c.d_model * c.context
