"""The samples stage: what a model says to fixed prompts, as Markdown.

Numbers in ppl.json say how well a model predicts text; samples.md shows what
that means. The prompts come from the config, so every run of every preset
answers the same ones and runs can be read side by side; sampling is seeded
(greedy by default), so a rerun of the same model writes the same page.
"""

from pathlib import Path

from minnow.atomic import write_text
from minnow.inference.chat import Assistant


def _block(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def render(assistants: list[Assistant], spec: dict) -> str:
    """The Markdown page: plain continuations, then one-turn chats, each answered by every
    assistant in turn (a fine-tune and the model it started from, side by side)."""
    sampling = {
        k: spec[k] for k in ("temperature", "top_k", "top_p", "repetition_penalty", "seed") if spec.get(k) is not None
    }
    names = " and its init model ".join(f"`{a.name}`" for a in assistants)
    settings = ", ".join(f"{k} {v}" for k, v in sampling.items())
    lines = [f"# Samples from {names}", "", f"max_tokens {spec['max_tokens']}, {settings}", ""]
    if spec["prompts"]:
        lines += ["## Continuations", ""]
    for prompt in spec["prompts"]:
        lines += [f"**{prompt}**", ""]
        for a in assistants:
            text = a.complete(prompt, max_tokens=spec["max_tokens"], **sampling)
            lines += ([f"*{a.name}:*", ""] if len(assistants) > 1 else []) + [_block(prompt + text), ""]
    if spec["chat"]:
        lines += ["## Chat", ""]
    for question in spec["chat"]:
        lines += [f"**user:** {question}", ""]
        for a in assistants:
            reply = a.chat([{"role": "user", "content": question}], max_tokens=spec["max_tokens"], **sampling)
            lines += [f"**{a.name}:** {reply['choices'][0]['message']['content']}", ""]
    return "\n".join(lines)


def write_samples(folder: Path, spec: dict, out: Path, device: str = "auto", init: Path | None = None) -> str:
    """samples.md of the model in `folder` (and of its init model, if it has one), generated
    on `device` (evaluation.device)."""
    assistants = [Assistant.load(f, device) for f in (folder, init) if f is not None]
    page = render(assistants, spec)
    write_text(out, page)
    return page
