"""Evaluation throughput: minnow's model against `transformers` running the same weights.

    python benchmarks/eval_throughput.py [--presets tiny small] [--tokens 16384]

For each preset, one model is built (random weights, seeded), copied into
`transformers`' LlamaForCausalLM (the names map one to one), and both score the
same token ids with minnow's sliding-window protocol (`perplexity.sliding_nll`,
stride half the context). The ids are seeded random tokens: speed depends on how
many tokens are scored, not on what they say. Only the forward pass differs, so
the ratio is the model implementation's. The NLLs must agree, which the script
checks.
"""

import argparse
import time
from pathlib import Path

import torch
import yaml

from minnow.eval import perplexity
from minnow.model import Transformer
from minnow.train.loop import model_config
from minnow.workflow.config import embedding_rows

REPO = Path(__file__).resolve().parents[1]


def hf_twin(model: Transformer):
    from transformers import LlamaConfig, LlamaForCausalLM

    c = model.cfg
    hf = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=c.vocab_size,
            hidden_size=c.d_model,
            intermediate_size=c.ffn_dim,
            num_hidden_layers=c.n_layers,
            num_attention_heads=c.n_heads,
            num_key_value_heads=c.n_kv_heads,
            max_position_embeddings=c.context,
            rope_theta=c.rope_theta,
            rms_norm_eps=c.norm_eps,
            tie_word_embeddings=c.tie_embeddings,
        )
    ).eval()
    hf.load_state_dict(model.state_dict(), strict=True)
    return hf


def timed(logits_fn, ids: list[int], context: int) -> tuple[float, float]:
    start = time.perf_counter()
    nll, scored = perplexity.sliding_nll(logits_fn, ids, context, context // 2)
    return nll, scored / (time.perf_counter() - start)


def main(presets: list[str], tokens: int) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| preset | params | context | tokens | minnow tokens/s | transformers tokens/s | ratio | NLL agree |")
    print("|---|---|---|---|---|---|---|---|")
    for preset in presets:
        spec = config["models"][preset]
        model_cfg = model_config(spec, embedding_rows(config["tokenizers"][spec["tokenizer"]]["vocab_size"]))
        torch.manual_seed(0)
        model = Transformer(model_cfg).eval()
        hf = hf_twin(model)
        ids = torch.randint(0, model_cfg.vocab_size, (tokens,), generator=torch.Generator().manual_seed(1)).tolist()
        ours_nll, ours = timed(lambda x, model=model: model(x)[0], ids, model_cfg.context)
        theirs_nll, theirs = timed(lambda x, hf=hf: hf(x).logits, ids, model_cfg.context)
        agree = abs(ours_nll - theirs_nll) / abs(theirs_nll) < 1e-4
        print(
            f"| {preset} | {model.num_params() / 1e6:.1f}M | {model_cfg.context} | {len(ids)} | {ours:,.0f} | "
            f"{theirs:,.0f} | {ours / theirs:.2f}× | {'yes' if agree else 'NO'} |",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--tokens", type=int, default=16384)
    args = parser.parse_args()
    main(args.presets, args.tokens)
