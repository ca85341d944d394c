import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import train_job
from minnow import checkpoint, launch, model_folder, tokenizer, train_job as jobs, training
from minnow.batches import Batches, answer_mask
from minnow.config import with_defaults
from minnow.errors import InputError
from minnow.model import ModelConfig, Transformer
from minnow.optim import lr_at, param_groups
from minnow.training import TrainConfig

SPEC = {"d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_dim": 64, "context": 32,
        "train": {"steps": 40, "batch_size": 8, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5, "eval_every": 10,
                  "eval_batches": 4, "checkpoint_every": 5, "device": "cpu"}}
VOCAB = 512


def spec(**train):
    return {**SPEC, "train": {**SPEC["train"], **train}}


def train_in_process(folder, chat_shards, model_spec=None) -> dict:
    return jobs.run(train_job(folder, *chat_shards, model_spec or SPEC, VOCAB), progress=False, threads=1)


def test_schedule_warms_up_then_decays_to_min_lr():
    train = with_defaults("train", {"steps": 100, "batch_size": 1, "lr": 1.0, "min_lr": 0.1, "warmup_steps": 10})
    cfg = TrainConfig(**train)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(0.1, abs=1e-3)


def test_answer_mask_keeps_assistant_answers_and_their_end():
    m = {"system": 1, "user": 2, "assistant": 3, "end": 4, "eos": 5}
    #          answer?  -   x   x   x   -  -   -   -   x   x   x   -
    window = np.array([[9, 10, 3, 20, 21, 4, 5, 2, 30, 4, 3, 40, 4, 5]])
    targets = window[0, 1:]
    mask = answer_mask(window, m)[0]
    assert targets[mask].tolist() == [20, 21, 4, 40, 4]
    assert answer_mask(np.array([[20, 21, 22]]), m).sum() == 0  # role unknown before the first marker


def test_weight_decay_spares_embeddings_and_norms():
    model = Transformer(ModelConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32, context=8))
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("proj" in names[id(p)] for p in decay["params"])
    assert {names[id(p)] for p in no_decay["params"]} >= {"model.embed_tokens.weight", "model.norm.weight"}


def test_training_is_seeded_and_learns(tmp_path, chat_shards):
    first = train_in_process(tmp_path / "a", chat_shards, spec(steps=100, eval_every=20))
    second = train_in_process(tmp_path / "b", chat_shards, spec(steps=100, eval_every=20))
    assert first["history"] == second["history"]
    val = [loss for _, loss in first["history"]["val"]]
    assert val[-1] < val[0] - 0.8 and val[-1] < np.log(VOCAB) - 1.5
    assert (tmp_path / "a" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["steps"] == 100


# Train losses of a seeded run (SPEC, 30 steps, 2 micro-steps), recorded before the loop was made
# faster: where the math did not change, the loop must still compute the same curve.
GOLDEN = [6.245704, 6.256736, 6.218797, 6.191724, 6.128514, 6.049328, 5.975681, 5.896981, 5.848225, 5.778075,
          5.721928, 5.680673, 5.602516, 5.572093, 5.545122, 5.484942, 5.4402, 5.438502, 5.370391, 5.348947,
          5.308058, 5.303781, 5.309582, 5.28036, 5.26545, 5.229741, 5.270055, 5.226109, 5.269249, 5.242118]


def test_a_seeded_run_follows_its_golden_loss_curve(tmp_path, chat_shards):
    result = train_in_process(tmp_path, chat_shards, spec(steps=30, grad_accum=2, eval_every=10, precision="fp32"))
    assert np.allclose([loss for _, loss in result["history"]["train"]], GOLDEN, atol=2e-3)


def test_answers_only_batches_count_only_the_fish_answers(chat_shards):
    from minnow.data.builtin import guppy

    shards, tok_path = chat_shards
    tok = tokenizer.load(tok_path)
    marker = tokenizer.markers(tok)
    batches = Batches(shards, 32, 16, seed=0, eval_batches=1, answers_only=True, marker=marker)
    answers = {r["output"] for r in guppy.generate(2500, seed=1)}
    x, y = batches.train_batch(step=3, micro=0)
    assert 0 < (y != -100).float().mean() < 0.9
    for row in y.numpy():
        kept = row[row != -100]
        for span in np.split(kept, np.flatnonzero(kept == marker["end"]) + 1):
            text = tok.decode([t for t in span.tolist() if t != marker["end"]])
            assert not text or any(text in answer for answer in answers), text


def test_answers_only_training_stays_finite(tmp_path, chat_shards):
    result = train_in_process(tmp_path, chat_shards, spec(loss_on="answers", steps=10))
    assert all(np.isfinite(loss) for _, loss in result["history"]["train"])


def test_saved_model_loads_in_minnow_and_transformers_with_equal_logits(tmp_path, chat_shards):
    from transformers import AutoModelForCausalLM

    train_in_process(tmp_path, chat_shards, spec(steps=5))
    ours = model_folder.load_model(tmp_path)
    hf = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, VOCAB, (2, 32))
    with torch.no_grad():
        assert torch.allclose(ours(idx)[0], hf(idx).logits, atol=1e-4)


def test_checkpoint_of_another_model_is_refused(tmp_path, chat_shards):
    first = train_in_process(tmp_path / "a", chat_shards, spec(steps=5))
    wider_spec = train_job(tmp_path / "b", *chat_shards, {**spec(steps=10), "d_model": 48, "ffn_dim": 96}).spec
    model_cfg, cfg = training.configs(wider_spec, VOCAB)
    wider = training.Trainer(model_cfg, cfg, *chat_shards, tmp_path / "b" / "checkpoints")
    wider.run_dir.mkdir(parents=True)
    (wider.run_dir / "last.pt").write_bytes((Path(first["checkpoints"]) / "last.pt").read_bytes())
    with pytest.raises(InputError, match=r"last\.pt: checkpoint is for another model \(d_model 32 → 48, ffn_dim 64 → 96\)"):
        wider.run(progress=False)


def test_a_changed_run_starts_over_instead_of_continuing_a_stale_checkpoint(tmp_path, chat_shards):
    first = train_in_process(tmp_path, chat_shards, spec(steps=5))
    again = train_in_process(tmp_path, chat_shards, spec(steps=5))
    assert again["resumed"] and again["checkpoints"] == first["checkpoints"] and again["steps_trained"] == 0
    changed = train_in_process(tmp_path, chat_shards, spec(steps=5, seed=7))
    assert not changed["resumed"] and changed["checkpoints"] != first["checkpoints"] and changed["steps_trained"] == 5
    assert (Path(first["checkpoints"]) / "last.pt").exists()  # the earlier run's checkpoints are kept


def test_foreign_checkpoint_file_is_refused(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint at all")
    cfg = ModelConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32, context=8)
    with pytest.raises(InputError, match=r"last\.pt: not a readable minnow checkpoint"):
        checkpoint.load_checkpoint(bad, cfg)


TRAIN_SCRIPT = """
import json, sys
from pathlib import Path
from minnow import train_job
job = train_job.TrainJob.from_json(json.loads(Path(sys.argv[1]).read_text()))
train_job.run(job, progress=False, threads=1)
"""


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_curve(tmp_path, chat_shards):
    long = spec(steps=300, eval_every=50)
    straight = train_in_process(tmp_path / "straight", chat_shards, long)
    folder = tmp_path / "killed"
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps(train_job(folder, *chat_shards, long, VOCAB).to_json()))
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, str(args_file)])
    deadline = time.time() + 120
    while time.time() < deadline and not list((folder / "checkpoints").glob("*/last.pt")):
        time.sleep(0.01)
    (last,) = (folder / "checkpoints").glob("*/last.pt")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(last, weights_only=True)["step"]
    assert 5 <= killed_at < 300 and not (folder / "model.safetensors").exists()
    resumed = train_in_process(folder, chat_shards, long)
    assert resumed["resumed"] and resumed["steps"] == 300
    assert np.allclose([l for _, l in resumed["history"]["train"]], [l for _, l in straight["history"]["train"]], atol=1e-5)
    assert [s for s, _ in resumed["history"]["val"]] == [50, 100, 150, 200, 250, 300]


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_matches_one_process_on_the_same_global_batch(tmp_path, chat_shards):
    single = train_in_process(tmp_path / "one", chat_shards, spec(steps=6, batch_size=8))
    job = train_job(tmp_path / "two", *chat_shards, spec(steps=6, batch_size=4, gpus=2), VOCAB)
    double = launch.torchrun(job, nproc=2, run_id=None)
    assert double["steps"] == 6
    assert np.allclose([l for _, l in double["history"]["train"]], [l for _, l in single["history"]["train"]], atol=1e-4)


def test_bf16_autocast_on_cpu_follows_the_fp32_curve(tmp_path, chat_shards):
    """`precision: auto` picks bf16 on CPUs that have it; it must learn what fp32 learns."""
    result = train_in_process(tmp_path, chat_shards, spec(steps=30, grad_accum=2, eval_every=10, precision="bf16"))
    losses = np.array([loss for _, loss in result["history"]["train"]])
    assert result["autocast"] == "bfloat16"
    assert np.abs(losses - GOLDEN).max() < 0.03 and abs(losses[-5:].mean() - np.mean(GOLDEN[-5:])) < 0.01


@pytest.mark.parametrize("flags, expected", [
    ("fpu avx2 avx512f avx512_bf16 avx512_fp16", True),   # AMD Zen 4
    ("fpu avx2 avx512f amx_bf16 amx_tile amx_int8", True),  # Intel Sapphire Rapids
    ("fpu sse4_2 avx2 fma", False),                         # no bf16 dot products
])
def test_cpu_bf16_is_read_from_the_cpu_flags(flags, expected):
    from minnow.devices import cpu_has_bf16

    cpuinfo = f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n"
    assert cpu_has_bf16(cpuinfo) is expected
    assert cpu_has_bf16("") is False


def test_auto_precision_on_cpu_is_bf16_exactly_where_the_cpu_has_it():
    from minnow.devices import autocast_dtype, cpu_has_bf16

    assert autocast_dtype(torch.device("cpu"), "auto") == (torch.bfloat16 if cpu_has_bf16() else None)
    assert autocast_dtype(torch.device("cpu"), "fp32") is None


def test_muon_orthogonalises_each_matrix_of_a_batch_alone():
    from minnow.optim import orthogonalise

    g = torch.randn(3, 16, 40, generator=torch.Generator().manual_seed(0))
    together = orthogonalise(g)
    assert torch.allclose(together[1], orthogonalise(g[1]), atol=1e-6)
    singular = torch.linalg.svdvals(together)
    assert singular.min() > 0.5 and singular.max() < 1.5  # Newton-Schulz's band around 1
    assert torch.allclose(orthogonalise(g.mT), together.mT, atol=1e-6)  # tall matrices as their transpose


def test_muon_learns_and_resumes_to_the_same_curve(tmp_path, chat_shards):
    """Muon's state (momentum per matrix, AdamW's for the rest) survives a checkpoint."""
    muon = with_defaults("model", {"corpus": "c", "tokenizer": "t",
                                   **spec(steps=20, checkpoint_every=10, optimizer="muon", muon_lr=0.02)})
    model_cfg, cfg = training.configs(muon, VOCAB)

    def trainer(folder, on_metrics=None):
        return training.Trainer(model_cfg, cfg, *chat_shards, tmp_path / folder, on_metrics, threads=1)

    straight = trainer("straight")
    at_ten = tmp_path / "step10.pt"
    straight.on_metrics = lambda step, m: step == 10 and at_ten.write_bytes((straight.run_dir / "last.pt").read_bytes())
    losses = [loss for _, loss in straight.run(progress=False)["history"]["train"]]
    assert np.mean(losses[-5:]) < losses[0] - 0.5
    resumed = trainer("resumed")
    resumed.run_dir.mkdir(parents=True)
    (resumed.run_dir / "last.pt").write_bytes(at_ten.read_bytes())
    result = resumed.run(progress=False)
    assert result["resumed"] and result["steps_trained"] == 10
    assert np.allclose([loss for _, loss in result["history"]["train"]], losses, atol=1e-5)
