"""lm-eval tasks over local JSON lines, as a user writes custom tasks (the Hub is out of reach)."""

import json
from pathlib import Path

import yaml


def rolling_task(folder: Path, name: str, texts: list[str], target: str = "text", metrics=("bits_per_byte",)) -> Path:
    """A `loglikelihood_rolling` task `name` in `folder` over one row per text, scoring each
    row's `target` field: the folder, for evaluation.downstream.include_path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = folder / f"{name}.jsonl"
    rows.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    task = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(rows)}},
        "test_split": "test",
        "output_type": "loglikelihood_rolling",
        "doc_to_text": "",
        "doc_to_target": target,
        "metric_list": [{"metric": metric} for metric in metrics],
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(task))
    return folder
