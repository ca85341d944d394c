"""A train job's model folder loads in minnow and in transformers."""

import torch

from minnow import model_folder

from training_runs import VOCAB, spec, train_in_process


def test_saved_model_loads_in_minnow_and_transformers_with_equal_logits(tmp_path, chat_shards):
    from transformers import AutoModelForCausalLM

    train_in_process(tmp_path, chat_shards, spec(steps=5))
    ours = model_folder.load_model(tmp_path)
    hf = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, VOCAB, (2, 32))
    with torch.no_grad():
        assert torch.allclose(ours(idx)[0], hf(idx).logits, atol=1e-4)
