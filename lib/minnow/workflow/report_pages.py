"""HTML pages for `snakemake --report`: the JSON results as tables a person reads.

ppl.json, quant.json, stats.json and train_summary.json are exact but tiring to
read; each page here turns one of them into small tables, so the report shows a
run's numbers beside its loss curve and DAG. Pages are self-contained (inline
style, UTF-8), since the report embeds each one in a frame of its own.
"""

import html
import json
from pathlib import Path

from minnow.atomic import write_text

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:0.3em 0.7em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}"
    "tr.ours td{font-weight:bold}pre{white-space:pre-wrap;background:#f8f8f8;padding:1em}"
)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape("" if value is None else str(value))


def table(headers: list[str], rows: list[list], marked: set[int] = frozenset()) -> str:
    """An HTML table; rows whose index is in `marked` are bold (our model among references)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{' class=ours' if i in marked else ''}>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def perplexity_page(ppl: dict) -> str:
    """Per eval set: our model and every reference on the same bytes, best bits-per-byte first,
    in total and on each source's documents."""
    model = ppl["model"]
    body = (
        f"<p>{html.escape(model['name'])}: {model['parameters']:,} parameters, vocab {model['vocab_size']:,}, "
        f"context {model['context']}. Lower is better; bits per byte compares models whose tokenizers differ.</p>"
    )
    for name, entry in ppl["eval_sets"].items():
        scores = {model["name"]: entry["model"], **entry["references"]}
        ranked = [r["model"] for r in entry["ranking_bits_per_byte"]]
        skipped = [f"{r} ({s.get('skipped')})" for r, s in entry["references"].items() if "bits_per_byte" not in s]
        sources = entry.get("by_source", {})
        rows = [
            [
                r,
                scores[r]["bits_per_byte"],
                *(scores[r].get("by_source", {}).get(s, {}).get("bits_per_byte") for s in sources),
                scores[r].get("token_perplexity"),
                scores[r].get("tokens"),
                scores[r].get("context"),
            ]
            for r in ranked
        ]
        parts = "; ".join(f"{s}: {n['documents']:,} documents, {n['bytes']:,} bytes" for s, n in sources.items())
        header = ["model", "bits/byte", *(f"{s} bits/byte" for s in sources), "token perplexity", "tokens", "context"]
        body += (
            f"<h2>{html.escape(name)}</h2><p>{entry['documents']:,} documents, {entry['bytes']:,} bytes"
            f"{' (capped)' if entry.get('capped') else ''}{html.escape(f' ({parts})' if parts else '')}, "
            f"sha256 {entry['sha256'][:12]}</p>" + table(header, rows, {ranked.index(model["name"])})
        )
        if skipped:
            body += f"<p>Skipped references: {html.escape('; '.join(skipped))}</p>"
    return page(f"Perplexity: {model['name']}", body)


def export_page(quant: dict, name: str) -> str:
    """Size against quality for each quantized file, measured on the same eval text."""
    fp32 = quant["fp32"]
    rows = [["fp32 (model.safetensors)", fp32["bytes"], 1.0, fp32["bits_per_byte"], 0.0]]
    rows += [
        [scheme, s["bytes"], s["compression_vs_fp32"], s["bits_per_byte"], s["delta_bits_per_byte"]]
        for scheme, s in quant["schemes"].items()
    ]
    gguf = [
        [
            kind,
            g["bytes"],
            g["llama_cpp"].get("bits_per_byte"),
            g["llama_cpp"].get("delta_bits_per_byte"),
            _not_as_typed(g),
            g["file"],
        ]
        for kind, g in quant["gguf"].items()
    ]
    skipped = {g["llama_cpp"]["skipped"] for g in quant["gguf"].values() if "skipped" in g["llama_cpp"]}
    body = (
        f"<p>Scored on {quant['eval_set']['bytes']:,} bytes of the model's val text.</p>"
        + table(["format", "bytes", "× smaller than fp32", "bits/byte", "Δ bits/byte"], rows)
        + "<h2>GGUF, scored by llama.cpp</h2>"
        + table(["type", "bytes", "bits/byte", "Δ bits/byte", "tensors of another type", "file"], gguf)
        + "".join(f"<p>Not scored: {html.escape(reason)}</p>" for reason in sorted(skipped))
    )
    return page(f"Export: {name}", body)


def _not_as_typed(gguf: dict) -> str:
    """The matrices a GGUF file holds in another type than its own, and which."""
    other = {**gguf.get("kept_8bit", {}), **gguf.get("fallbacks", {})}
    return ", ".join(f"{name} {kind}" for name, kind in other.items())


def downstream_page(result: dict) -> str:
    """Per lm-eval task: the model's metrics and each reference's, side by side."""
    name = result["model"]
    body = f"<p>lm-evaluation-harness {html.escape(result['lm_eval'])}; higher is better except perplexity.</p>"
    for task, ours in result["tasks"].items():
        scored = {
            name: ours,
            **{r: v["tasks"][task] for r, v in result["references"].items() if task in v.get("tasks", {})},
        }
        metrics = list(ours["metrics"])
        rows = [
            [model, *(s["metrics"].get(m) for m in metrics), s["num_fewshot"], s["samples"]]
            for model, s in scored.items()
        ]
        body += f"<h2>{html.escape(task)}</h2>" + table(["model", *metrics, "few-shot", "examples"], rows, {0})
    skipped = [f"{r} ({v['skipped']})" for r, v in result["references"].items() if "skipped" in v]
    if skipped:
        body += f"<p>Skipped references: {html.escape('; '.join(skipped))}</p>"
    return page(f"Downstream: {name}", body)


def training_page(summary: dict, name: str) -> str:
    """What a training run did, without its per-step history (the loss curve shows that)."""
    rows = [[k, v] for k, v in summary.items() if k != "history"]
    return page(f"Training: {name}", table(["", "value"], rows))


def corpus_page(stats: dict, name: str) -> str:
    """Documents and bytes per source through each filter step, then the mix's shares."""
    steps = sorted({step for counts in stats["sources"].values() for step in counts}, key=_step_order)
    rows = [
        [f"{source}: {step}", c[step]["documents"], c[step]["bytes"]]
        for source, c in stats["sources"].items()
        for step in steps
        if step in c
    ]
    mix = [[source, m["factor"], m["bytes"], m["share"]] for source, m in stats["mix"].items()]
    duplicates = [
        [source, step.replace("_", " "), original, n]
        for source, steps in stats.get("duplicates", {}).items()
        for step, originals in steps.items()
        for original, n in originals.items()
    ]
    body = (
        "<h2>Filtering and dedup</h2>"
        + table(["source: step", "documents", "bytes"], rows)
        + (table(["source", "dropped as", "duplicating source", "documents"], duplicates) if duplicates else "")
        + f"<h2>Mix (by {html.escape(stats['mix_by'])})</h2>"
        + table(["source", "sampling factor", "train bytes", "share"], mix)
    )
    return page(f"Corpus: {name}", body)


def _step_order(step: str) -> tuple[int, str]:
    order = ["in", "train_before_mix", "val_before_mix", "train", "val"]
    return (order.index(step), step) if step in order else (1, step)


def samples_page(markdown: str, name: str) -> str:
    """samples.md as preformatted text: what the model said, verbatim, in any script."""
    return page(f"Samples: {name}", f"<pre>{html.escape(markdown)}</pre>")


def write_model_pages(ppl: Path, quant: Path, samples: Path, summary: Path, name: str, out: dict[str, Path]) -> None:
    """The four pages of one model, from its result files."""
    write_text(out["perplexity"], perplexity_page(json.loads(Path(ppl).read_text())))
    write_text(out["export"], export_page(json.loads(Path(quant).read_text()), name))
    write_text(out["samples"], samples_page(Path(samples).read_text(encoding="utf-8"), name))
    write_text(out["training"], training_page(json.loads(Path(summary).read_text()), name))
