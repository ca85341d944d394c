"""How many weights a Llama-shaped model has, and how many embedding rows, from the config alone.

Torch-free, so that the workflow can size a job's memory request from the config
while Snakemake plans, without importing torch into every `snakemake` call.
"""


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
