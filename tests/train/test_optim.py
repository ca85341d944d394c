"""Learning-rate schedule, parameter groups and Muon's orthogonalisation."""

import pytest
import torch

from minnow.model.transformer import ModelConfig, Transformer
from minnow.train.optim import lr_at, param_groups
from minnow.train.settings import TrainConfig
from minnow.workflow.config import with_defaults


def test_schedule_warms_up_then_decays_to_min_lr():
    train = with_defaults("train", {"steps": 100, "batch_size": 1, "lr": 1.0, "min_lr": 0.1, "warmup_steps": 10})
    cfg = TrainConfig(**train)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False)) and lrs[-1] == pytest.approx(0.1, abs=1e-3)


def test_weight_decay_spares_embeddings_and_norms():
    model = Transformer(
        ModelConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32, context=8)
    )
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("proj" in names[id(p)] for p in decay["params"])
    assert {names[id(p)] for p in no_decay["params"]} >= {"model.embed_tokens.weight", "model.norm.weight"}


def test_muon_orthogonalises_each_matrix_of_a_batch_alone():
    from minnow.train.optim import orthogonalise

    g = torch.randn(3, 16, 40, generator=torch.Generator().manual_seed(0))
    together = orthogonalise(g)
    assert torch.allclose(together[1], orthogonalise(g[1]), atol=1e-6)
    singular = torch.linalg.svdvals(together)
    assert singular.min() > 0.5 and singular.max() < 1.5  # Newton-Schulz's band around 1
    assert torch.allclose(orthogonalise(g.mT), together.mT, atol=1e-6)  # tall matrices as their transpose
