"""What `snakemake` builds when asked for nothing in particular, and which results/ folders are no model's."""

from minnow.workflow.config import downstream

# a model's report pages (report/downstream.html joins them where downstream tasks are configured)
REPORT_PAGES = tuple(f"report/{page}.html" for page in ("perplexity", "export", "samples", "training"))
# Folders under results/ that are not models (a target below any other is a model's).
RESULT_FOLDERS = ("raw", "fetched", "corpus", "tokenizers", "shards", "eval", "references", "logs", "benchmarks")


def all_targets(config: dict) -> list[str]:
    """Each model in `targets`, evaluated, exported and with its report pages (and its
    corpus's), and its downstream benchmarks where tasks are configured; with no
    targets, the shards of every trained tokenizer's corpus."""
    if config["targets"]:
        outputs = ("ppl.json", "samples.md", "export/quant.json", *REPORT_PAGES)
        if downstream(config)["tasks"]:
            outputs += ("downstream.json", "report/downstream.html")
        corpora = {config["models"][m]["corpus"] for m in config["targets"]}
        return [f"results/{m}/{out}" for m in config["targets"] for out in outputs] + [
            f"results/corpus/{c}/stats.html" for c in sorted(corpora)
        ]
    return [
        f"results/shards/{t['corpus']}/{name}/meta.json"
        for name, t in config["tokenizers"].items()
        if "corpus" in t  # a pretrained tokenizer has none
    ]
