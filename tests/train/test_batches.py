"""Train batches: answer masks for `loss_on: answers`."""

import numpy as np

from minnow import tokenizer
from minnow.train.batches import Batches, answer_mask


def test_answer_mask_keeps_assistant_answers_and_their_end():
    m = {"system": 1, "user": 2, "assistant": 3, "end": 4, "eos": 5}
    #          answer?  -   x   x   x   -  -   -   -   x   x   x   -
    window = np.array([[9, 10, 3, 20, 21, 4, 5, 2, 30, 4, 3, 40, 4, 5]])
    targets = window[0, 1:]
    mask = answer_mask(window, m)[0]
    assert targets[mask].tolist() == [20, 21, 4, 40, 4]
    assert answer_mask(np.array([[20, 21, 22]]), m).sum() == 0  # role unknown before the first marker


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
