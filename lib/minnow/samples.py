"""The samples stage: what a model says to fixed prompts, as Markdown.

Numbers in ppl.json say how well a model predicts text; samples.md shows what
that means. The prompts come from the config, so every run of every preset
answers the same ones and runs can be read side by side; sampling is seeded
(greedy by default), so a rerun of the same model writes the same page.
"""

from pathlib import Path

from minnow.atomic import write_text
from minnow.chat import Assistant


def _block(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def render(assistant: Assistant, spec: dict) -> str:
    """The Markdown page: plain continuations, then one-turn chats."""
    sampling = {
        k: spec[k] for k in ("temperature", "top_k", "top_p", "repetition_penalty", "seed") if spec.get(k) is not None
    }
    lines = [
        f"# Samples from `{assistant.name}`",
        "",
        f"max_tokens {spec['max_tokens']}, " + ", ".join(f"{k} {v}" for k, v in sampling.items()),
        "",
    ]
    if spec["prompts"]:
        lines += ["## Continuations", ""]
    for prompt in spec["prompts"]:
        text = assistant.complete(prompt, max_tokens=spec["max_tokens"], **sampling)
        lines += [f"**{prompt}**", "", _block(prompt + text), ""]
    if spec["chat"]:
        lines += ["## Chat", ""]
    for question in spec["chat"]:
        reply = assistant.chat([{"role": "user", "content": question}], max_tokens=spec["max_tokens"], **sampling)
        answer = reply["choices"][0]["message"]["content"]
        lines += [f"**user:** {question}", "", f"**{assistant.name}:** {answer}", ""]
    return "\n".join(lines)


def write_samples(folder: Path, spec: dict, out: Path, device: str = "auto") -> str:
    """samples.md of the model in `folder`, generated on `device` (evaluation.device)."""
    page = render(Assistant.load(folder, device), spec)
    write_text(out, page)
    return page
