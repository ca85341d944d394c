"""Starting from a trained model: the init weights, their place in the run's identity, frozen
embeddings, resume before init, and init weights of another architecture refused."""

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from minnow.errors import InputError
from minnow.train import loop, settings

from conftest import train_job
from training_runs import SPEC, VOCAB, spec


@pytest.fixture(scope="module")
def base(tmp_path_factory, chat_shards):
    """A base model trained 40 steps: its folder."""
    folder = tmp_path_factory.mktemp("base")
    train_job(folder, *chat_shards, SPEC, VOCAB, name="base").run(progress=False, threads=1)
    return folder


def fine_tune(folder, chat_shards, base_folder, **train):
    job = train_job(folder, *chat_shards, spec(**{"steps": 10, "warmup_steps": 2, "lr": 3e-4, **train}), VOCAB)
    return dataclasses.replace(job, init=base_folder / "model.safetensors")


def test_a_fine_tune_starts_where_its_base_ended(tmp_path, chat_shards, base):
    """Before its first step a fine-tune holds its base's weights, exactly (its tied head
    stored once), not a random model's."""
    job = fine_tune(tmp_path / "tuned", chat_shards, base)
    model_cfg, cfg = settings.configs(*job.architecture())
    trainer = loop.Trainer(model_cfg, cfg, job.shards, job.tokenizer_json, job.checkpoints, threads=1, init=job.init)
    ours, theirs = trainer.model.state_dict(), load_file(str(base / "model.safetensors"))
    assert set(theirs) <= set(ours) and all(torch.equal(ours[name], weights) for name, weights in theirs.items())
    assert torch.equal(ours["lm_head.weight"], theirs["model.embed_tokens.weight"])


def test_the_init_weights_are_part_of_the_run_and_resume_comes_first(tmp_path, chat_shards, base):
    job = fine_tune(tmp_path / "tuned", chat_shards, base, checkpoint_every=5)
    first = job.run(progress=False, threads=1)
    weights = load_file(str(tmp_path / "tuned/model.safetensors"))
    again = job.run(progress=False, threads=1)
    assert again["resumed"] and again["steps_trained"] == 0  # its own checkpoint, not the init, comes first
    assert all(torch.equal(v, load_file(str(tmp_path / "tuned/model.safetensors"))[k]) for k, v in weights.items())
    other_base = tmp_path / "other-base"
    other_base.mkdir()
    state = load_file(str(base / "model.safetensors"))
    state["model.norm.weight"] = state["model.norm.weight"] * 1.01
    from safetensors.torch import save_file

    save_file(state, str(other_base / "model.safetensors"))
    (other_base / "config.json").write_bytes((base / "config.json").read_bytes())
    moved = dataclasses.replace(job, init=other_base / "model.safetensors").run(progress=False, threads=1)
    assert not moved["resumed"] and moved["checkpoints"] != first["checkpoints"]  # another base: another run


def test_frozen_embeddings_stay_as_the_base_left_them(tmp_path, chat_shards, base):
    fine_tune(tmp_path / "tuned", chat_shards, base, freeze_embeddings=True).run(progress=False, threads=1)
    before, after = load_file(str(base / "model.safetensors")), load_file(str(tmp_path / "tuned/model.safetensors"))
    assert torch.equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])
    assert not torch.equal(before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"])


def test_init_weights_of_another_shape_or_missing_stop_with_the_file_named(tmp_path, chat_shards, base):
    wider = train_job(tmp_path / "wide", *chat_shards, {**spec(), "d_model": 64}, VOCAB)
    job = dataclasses.replace(wider, init=base / "model.safetensors")
    with pytest.raises(
        InputError, match=r"model.safetensors: the init model is another architecture \(model\..*\(init\) vs"
    ):
        job.run(progress=False, threads=1)
    assert not (tmp_path / "wide/model.safetensors").exists()
    gone = dataclasses.replace(wider, init=tmp_path / "nowhere/model.safetensors")
    with pytest.raises(InputError, match="nowhere/model.safetensors"):
        gone.run(progress=False, threads=1)
