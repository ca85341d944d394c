"""torchrun: DDP ranks together compute the one-process run."""

import numpy as np
import pytest

from minnow.train import launch

from conftest import train_job
from training_runs import VOCAB, spec, train_in_process


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_matches_one_process_on_the_same_global_batch(tmp_path, chat_shards):
    single = train_in_process(tmp_path / "one", chat_shards, spec(steps=6, batch_size=8))
    job = train_job(tmp_path / "two", *chat_shards, spec(steps=6, batch_size=4, gpus=2), VOCAB)
    double = launch.torchrun(job, nproc=2, run_id=None)
    assert double["steps"] == 6
    assert np.allclose(
        [loss for _, loss in double["history"]["train"]],
        [loss for _, loss in single["history"]["train"]],
        atol=1e-4,
    )
