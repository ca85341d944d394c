"""Greedy continuations that two engines can be held to, whatever a trained model happens to say.

A model trained inside a test differs between CPUs (bf16 kernels, thread counts),
so neither the length of its answers nor where its near-ties fall is fixed. Here
every continuation has a fixed length (the end tokens are banned in both engines),
and two engines are compared only over the steps that are *decided*: where the
best token beats the second by more than twice the other engine's logit error,
no engine within that error can pick another token. What is asserted is then
what the code guarantees, on any machine.
"""

import torch

BANNED = -1e9  # the logit bias that keeps a token from being picked (llama.cpp's logit_bias)


@torch.no_grad()
def forced_greedy(model, ids: list[int], n: int, banned: tuple[int, ...]) -> list[int]:
    """minnow's greedy continuation of `ids`, exactly `n` tokens, none of them `banned`."""
    seq = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([seq]))[0][0, -1]
        logits[list(banned)] = float("-inf")
        seq.append(int(logits.argmax()))
    return seq[len(ids) :]


@torch.no_grad()
def decided_steps(model, ids: list[int], new: list[int], rel: float, banned: tuple[int, ...]) -> int:
    """How many leading steps of the continuation `new` win by more than 2 x `rel` x the
    largest |logit| over the whole sequence (an engine's error bound, as the tests assert it)."""
    everywhere = model(torch.tensor([ids + new]))[0][0]
    bound = 2 * rel * everywhere.abs().max()
    logits = everywhere[len(ids) - 1 : len(ids) + len(new) - 1]
    logits[:, list(banned)] = float("-inf")
    top2 = logits.topk(2, dim=-1).values
    undecided = ((top2[:, 0] - top2[:, 1]) <= bound).nonzero()
    return int(undecided[0]) if len(undecided) else len(new)


def llama_cpp_greedy(llm, ids: list[int], n: int, banned: tuple[int, ...]) -> str:
    """llama.cpp's greedy continuation of `ids`, `n` tokens with the same tokens banned, as text."""
    bias = dict.fromkeys(banned, BANNED)
    made = llm.create_completion(ids, max_tokens=n, temperature=0, repeat_penalty=1.0, logit_bias=bias)
    return made["choices"][0]["text"]
