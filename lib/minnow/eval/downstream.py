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
CPU, `batch_size: auto` is one window a forward: lm-eval's own probe would try ever
larger batches of full windows until one fails, and on a CPU failing means the
kernel's OOM killer, not an exception it could catch. One window is also the fastest
there: SmolLM2 on five WikiText articles took 69 s at batch 1 and 89 s at batch 4,
peaking at 1.7 and 3.2 GB (docs/BENCHMARKS.md).
"""

import importlib.metadata
import logging
from pathlib import Path

from minnow import devices
from minnow.errors import InputError
from minnow.eval import references, windows

log = logging.getLogger(__name__)


def fewshot_groups(settings: dict) -> dict[int | None, list[str]]:
    """Task names by few-shot count (None: the task's own default). Tasks are given as a
    name or {task, fewshot}; lm-eval takes one count per run, as its CLI's --num_fewshot."""
    groups = {}
    for entry in settings["tasks"]:
        entry = {"task": entry} if isinstance(entry, str) else entry
        groups.setdefault(entry.get("fewshot"), []).append(entry["task"])
    return groups


def reference_args(name: str, spec: dict, context: int, device) -> dict:
    """lm-eval's `hf` model arguments for a reference, loaded once as the perplexity stage
    loads it (a hub id, or a GGUF file dequantized by transformers, in fp32) and handed to
    lm-eval on `device`; read in ppl.json's window (`context`, capped at the reference's
    own) after its start token. Loading once spares parsing a GGUF three times (config,
    tokenizer, weights), about 10 s of SmolLM2's job on two cores."""
    model, tok, _ = references.load(name, spec)
    return {
        "pretrained": model.to(device),
        "tokenizer": tok,
        "max_length": windows.model_window(model, context),
        "prefix_token_id": references.start_id(tok, spec),
    }


def evaluate(name: str, model_args, settings: dict, manager=None) -> dict:
    """Run lm-eval's Python API on the configured tasks (indexed by `manager`, else here);
    the summary downstream.json keeps, with how the model was read. `model_args(device)`
    gives lm-eval's model arguments; the model loads once and serves every few-shot group."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    manager = manager or task_manager(settings)
    device = devices.eval_device(settings["device"])
    batch = windows.lm_eval_batch(settings["batch_size"], device.type == "cpu")
    lm = HFLM(**model_args(device), batch_size=batch, device=str(device))
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
        except Exception as e:  # a task's data or template, or the model: say which run, with lm-eval's words
            raise InputError(
                f"lm-eval failed scoring {name} on {', '.join(tasks)} ({type(e).__name__}: {e}); the traceback is in "
                "the rule's log"
            ) from e
        for key, value in merged.items():
            value.update(results.get(key, {}))
    prefix = lm.tokenizer.convert_ids_to_tokens(lm.prefix_token_id)
    read = {"max_length": lm.max_length, "prefix_token": prefix, "batch_size": batch, "device": str(device)}
    return {**summarize(merged), "read": read}


def task_manager(settings: dict):
    """lm-eval's task index with the custom task folder; a task it does not know stops here,
    named, before any model loads."""
    from lm_eval.tasks import TaskManager

    include = settings.get("include_path")
    if include and not Path(include).is_dir():
        raise InputError(f"evaluation.downstream.include_path: {include} is not a folder of lm-eval task YAMLs")
    manager = TaskManager(include_path=include)
    unknown = [task for tasks in fewshot_groups(settings).values() for task in tasks if task not in manager.all_tasks]
    if unknown:
        where = f"lm-eval's own or {include}'s" if include else "lm-eval's own"
        raise InputError(f"evaluation.downstream.tasks: no task {', '.join(unknown)} among {where} tasks")
    return manager


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


def evaluate_reference(name: str, spec: dict, settings: dict, context: int) -> dict:
    """A reference's summary, read in ppl.json's window of at most `context` tokens, or a
    skip record if it is optional and cannot be loaded (a failure while scoring it is not
    a skip: it stops the job, saying so)."""
    manager, device = task_manager(settings), devices.eval_device(settings["device"])
    try:
        args = reference_args(name, spec, context, device)
    except references.Unavailable as e:
        return {"name": name, "skipped": str(e)}
    return {"name": name, **evaluate(f"reference {name}", lambda _: args, settings, manager)}
