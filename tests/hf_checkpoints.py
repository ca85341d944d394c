"""Small Hugging Face checkpoints written on the spot, so `init: {hf: <folder>}` and the
import's refusals are tested on real transformers folders without the Hub."""

from pathlib import Path

from minnow.tokens import tokenizer

CHARACTERS = list("abcdefghijklmnopqrstuvwxyz .,!?'\n")


def llama_folder(folder: Path, seed: int = 0, **config) -> Path:
    """A randomly initialised LlamaForCausalLM with a char tokenizer (minnow's chat template),
    saved as a hub model would be."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tokenizer.char_tokenizer(CHARACTERS)
    shape = {
        "vocab_size": -(-tok.get_vocab_size() // 64) * 64,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
        "tie_word_embeddings": True,
    }
    torch.manual_seed(seed)
    LlamaForCausalLM(LlamaConfig(**(shape | config))).save_pretrained(folder)
    tokenizer.save(tok, folder)
    return folder


def gpt2_folder(folder: Path) -> Path:
    """A checkpoint of another architecture."""
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(vocab_size=320, n_embd=32, n_layer=1, n_head=2, n_positions=64)).save_pretrained(folder)
    tokenizer.save(tokenizer.char_tokenizer(CHARACTERS), folder)
    return folder
