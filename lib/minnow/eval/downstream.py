"""Downstream benchmarks through lm-evaluation-harness, the scorer papers report.

Perplexity says how well a model predicts text; HellaSwag, ARC, PIQA and the
like say what it can do with that, and they are the figures other small models
are compared by. minnow does not reimplement them: lm-evaluation-harness
(`lm-eval`) scores the exported Hugging Face folder exactly as its own CLI would
(same task definitions, prompts, few-shot sampling and seeds), and each
reference model once, so a model's row and its references' rows come from the
same code. Tasks come from the config (`evaluation.downstream`), with a few-shot
count each; custom tasks are lm-eval task YAMLs in `include_path`.

Each model is read as ppl.json reads it: in windows of the context ppl.json uses
(`max_length`: a minnow model's own, a reference's `evaluation.reference_context`
capped at its own maximum) after the same start token (`prefix_token_id`), so a
rolling-likelihood task over ppl.json's documents gives ppl.json's bits/byte. On a
CPU, `batch_size: auto` is a fixed batch of `evaluation.batch_tokens` tokens, as
ppl.json batches: lm-eval's own probe would try ever larger batches of full windows
until one fails, and on a CPU failing means the kernel's OOM killer, not an
exception it could catch.
"""

import importlib.metadata
import logging
from pathlib import Path

from minnow import checkpoints, devices
from minnow.errors import InputError
from minnow.eval import references

log = logging.getLogger(__name__)


def fewshot_groups(settings: dict) -> dict[int | None, list[str]]:
    """Task names by few-shot count (None: the task's own default). Tasks are given as a
    name or {task, fewshot}; lm-eval takes one count per run, as its CLI's --num_fewshot."""
    groups = {}
    for entry in settings["tasks"]:
        entry = {"task": entry} if isinstance(entry, str) else entry
        groups.setdefault(entry.get("fewshot"), []).append(entry["task"])
    return groups


def reference_args(spec: dict, context: int) -> dict:
    """lm-eval's `hf` model arguments for a reference: a hub id, or a GGUF file that
    transformers dequantizes (lm-eval passes gguf_file through), read in ppl.json's
    window (`context`, capped at the reference's own) after its start token."""
    own = getattr(checkpoints.load_config(spec), "max_position_embeddings", context)
    window = {
        "max_length": min(context, own),
        "prefix_token_id": references.start_id(checkpoints.load_tokenizer(spec), spec),
    }
    if "hf" in spec:
        revision = {"revision": spec["revision"]} if spec.get("revision") else {}
        return {"pretrained": spec["hf"], "dtype": "float32", **revision, **window}
    path = checkpoints.gguf_path(spec)
    return {"pretrained": str(path.parent), "gguf_file": path.name, "dtype": "float32", **window}


def batch_size(setting: int | str, device, max_length: int, batch_tokens: int) -> int | str:
    """lm-eval's batch size: as configured, except `auto` on a CPU, which is as many full
    windows as fit `batch_tokens` (at least one) instead of lm-eval's probe."""
    if isinstance(setting, str) and device.type == "cpu":
        return max(1, batch_tokens // max_length)
    return setting


def evaluate(model_args: dict, settings: dict, batch_tokens: int) -> dict:
    """Run lm-eval's Python API on the configured tasks; the summary downstream.json keeps,
    with how the model was read. The model loads once and serves every few-shot group."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    include = settings.get("include_path")
    if include and not Path(include).is_dir():
        raise InputError(f"evaluation.downstream.include_path: {include} is not a folder of lm-eval task YAMLs")
    manager = TaskManager(include_path=include)
    device = devices.eval_device(settings["device"])
    batch = batch_size(settings["batch_size"], device, model_args["max_length"], batch_tokens)
    lm = HFLM(**model_args, batch_size=batch, device=str(device))
    merged = {"results": {}, "n-shot": {}, "n-samples": {}}
    for fewshot, tasks in fewshot_groups(settings).items():
        try:
            results = lm_eval.simple_evaluate(
                model=lm,
                tasks=tasks,
                num_fewshot=fewshot,
                limit=settings.get("limit"),
                task_manager=manager,
                log_samples=False,
            )
        except (KeyError, ValueError) as e:  # lm-eval's words for an unknown task or a bad task file
            raise InputError(
                f"evaluation.downstream.tasks: lm-eval could not load {', '.join(tasks)} ({type(e).__name__}: {e})"
            ) from None
        for key, value in merged.items():
            value.update(results.get(key, {}))
    window = {
        "max_length": model_args["max_length"],
        "prefix_token": lm.tokenizer.convert_ids_to_tokens(lm.prefix_token_id),
    }
    return {**summarize(merged), "read": {**window, "batch_size": batch, "device": str(device)}}


def summarize(results: dict) -> dict:
    """Per task: metrics (metric, or metric/filter where a task filters its answers), their
    standard errors, the few-shot count and how many examples were scored."""
    tasks = {}
    for task, scores in results["results"].items():
        metrics, stderr = {}, {}
        for key, value in scores.items():
            if "," not in key or not isinstance(value, (int, float)):
                continue  # "alias", and stderr placeholders ("N/A")
            metric, kind = key.split(",", 1)
            name = metric.removesuffix("_stderr") + ("" if kind == "none" else f"/{kind}")
            (stderr if metric.endswith("_stderr") else metrics)[name] = float(value)
        tasks[task] = {
            "metrics": metrics,
            "stderr": stderr,
            "num_fewshot": results["n-shot"].get(task),
            "samples": results.get("n-samples", {}).get(task, {}).get("effective"),
        }
    return {"lm_eval": importlib.metadata.version("lm_eval"), "tasks": tasks}


def evaluate_reference(name: str, spec: dict, settings: dict, context: int, batch_tokens: int) -> dict:
    """A reference's summary, read in ppl.json's window of at most `context` tokens, or a
    skip record if it is optional and cannot be loaded."""
    try:
        return {"name": name, **evaluate(reference_args(spec, context), settings, batch_tokens)}
    except InputError:
        raise
    except Exception as e:  # hub errors, missing packages: "cannot load", as for perplexity
        if spec.get("optional"):
            log.warning("optional reference %s skipped: %s", name, e)
            return {"name": name, "skipped": f"{type(e).__name__}: {e}"}
        raise InputError(
            f"reference '{name}' cannot be scored by lm-eval ({type(e).__name__}: {e}); fix "
            f"references.{name}, mark it `optional: true`, or remove it"
        ) from None
