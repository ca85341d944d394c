"""Train batches: answer masks for `loss_on: answers`."""

import numpy as np

from minnow.tokens import chat_layout, tokenizer
from minnow.tokens.chat_layout import Layout
from minnow.train.batches import Batches

from conftest import special_ids


def test_answer_mask_keeps_assistant_answers_and_their_end():
    one_token = Layout(5, {"system": ((1,), (4,)), "user": ((2,), (4,)), "assistant": ((3,), (4,))}, (3,), {})
    #          answer?  -   x   x   x   -  -   -   -   x   x   x   -
    window = np.array([[9, 10, 3, 20, 21, 4, 5, 2, 30, 4, 3, 40, 4, 5]])
    targets = window[0, 1:]
    mask = one_token.answer_mask(window)[0]
    assert targets[mask].tolist() == [20, 21, 4, 40, 4]
    assert one_token.answer_mask(np.array([[20, 21, 22]])).sum() == 0  # role unknown before the first marker


def test_answer_mask_follows_multi_token_openings_like_chatml():
    """<|im_start|>=1 role \n=9 ... <|im_end|>=2 \n=9: the answer starts after the whole opening."""
    chatml = Layout(
        0, {"system": ((1, 6, 9), (2, 9)), "user": ((1, 7, 9), (2, 9)), "assistant": ((1, 8, 9), (2, 9))}, (1, 8, 9), {}
    )
    #         answer?    -  -  -  -  -  -  -  -  -  x   x   x  -  -
    window = np.array([[1, 7, 9, 30, 2, 9, 1, 8, 9, 40, 41, 2, 9, 0]])
    mask = chatml.answer_mask(window)[0]
    assert window[0, 1:][mask].tolist() == [40, 41, 2]
    # an answer cut off by the window's start is of unknown role; a lone role token opens nothing
    assert chatml.answer_mask(np.array([[8, 9, 40, 41, 2]])).sum() == 0


def test_answers_only_batches_count_only_the_fish_answers(chat_shards):
    from minnow.data.builtin import guppy

    shards, tok_path = chat_shards
    tok = tokenizer.load(tok_path)
    marker = special_ids(tok)
    layout = chat_layout.read(tok, tok_path)
    batches = Batches(shards, 32, 16, seed=0, eval_batches=1, answers_only=True, layout=layout)
    answers = {r["output"] for r in guppy.generate(2500, seed=1)}
    x, y = batches.train_batch(step=3, micro=0)
    assert 0 < (y != -100).float().mean() < 0.9
    for row in y.numpy():
        kept = row[row != -100]
        for span in np.split(kept, np.flatnonzero(kept == marker["end"]) + 1):
            text = tok.decode([t for t in span.tolist() if t != marker["end"]])
            assert not text or any(text in answer for answer in answers), text
