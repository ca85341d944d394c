"""A model's shape from the config alone: the keys that state it, its weights, its embedding rows.

Torch-free, so that the workflow can check a preset and size a job's memory request
while Snakemake plans, without importing torch into every `snakemake` call. The
keys are `transformer.ModelConfig`'s fields but vocab_size (tests/model pins that):
the one list the config checks, the train step and the memory estimate read.
"""

# what a preset must state, or take from the model it starts from
REQUIRED_SHAPE_KEYS = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "context")
SHAPE_KEYS = (*REQUIRED_SHAPE_KEYS, "rope_theta", "norm_eps", "tie_embeddings")


def parameters(vocab_size: int, shape: dict) -> int:
    """Weights of a model of this shape (a tied head, the default, counted once), as
    `Transformer.num_params`."""
    d_model, ffn_dim = shape["d_model"], shape["ffn_dim"]
    kv = shape["n_kv_heads"] * (d_model // shape["n_heads"])
    attention = 2 * d_model * d_model + 2 * d_model * kv
    block = attention + 3 * d_model * ffn_dim + 2 * d_model
    head = 0 if shape.get("tie_embeddings", True) else vocab_size * d_model
    return vocab_size * d_model + shape["n_layers"] * block + d_model + head


def embedding_rows(requested_vocab: int) -> int:
    """A model's embedding rows: its tokenizer's requested size rounded up to a multiple
    of 64, fixed by the config alone so the architecture never depends on how far BPE got."""
    return -(-requested_vocab // 64) * 64
