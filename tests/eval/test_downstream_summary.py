"""What downstream.json keeps of lm-eval's results, and how few-shot counts group tasks."""

import pytest

from minnow.errors import InputError
from minnow.eval import downstream, windows
from minnow.tokens import tokenizer

from hf_checkpoints import llama_folder
from lm_eval_tasks import rolling_task


def test_few_shot_counts_group_tasks_into_one_lm_eval_run_each():
    settings = {
        "tasks": [
            "piqa",
            {"task": "hellaswag", "fewshot": 10},
            {"task": "arc_easy"},
            {"task": "mmlu", "fewshot": 5},
            {"task": "winogrande", "fewshot": 10},
        ]
    }
    assert downstream.fewshot_groups(settings) == {
        None: ["piqa", "arc_easy"],
        10: ["hellaswag", "winogrande"],
        5: ["mmlu"],
    }


def test_summary_keeps_metrics_by_filter_their_stderr_and_counts():
    results = {
        "results": {
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": 0.02,
                "exact_match_stderr,strict-match": 0.004,
                "exact_match,flexible-extract": 0.05,
                "exact_match_stderr,flexible-extract": "N/A",
            },
            "piqa": {"alias": "piqa", "acc,none": 0.6, "acc_stderr,none": 0.01},
        },
        "n-shot": {"gsm8k": 5, "piqa": 0},
        "n-samples": {"gsm8k": {"original": 1319, "effective": 100}, "piqa": {"original": 1838, "effective": 1838}},
    }
    tasks = downstream.summarize(results)["tasks"]
    assert tasks["gsm8k"] == {
        "metrics": {"exact_match/strict-match": 0.02, "exact_match/flexible-extract": 0.05},
        "stderr": {"exact_match/strict-match": 0.004},
        "num_fewshot": 5,
        "samples": 100,
    }
    assert tasks["piqa"]["metrics"] == {"acc": 0.6} and tasks["piqa"]["samples"] == 1838


def test_references_become_lm_eval_model_arguments_read_as_ppl_json_reads_them(tmp_path):
    """Loaded once, in fp32; the window is ppl.json's (reference_context, capped at the
    checkpoint's own 128) and the start token the spec's, else the tokenizer's BOS; a
    missing GGUF is named."""
    import torch

    folder = llama_folder(tmp_path / "ref")
    tok = tokenizer.load(folder / "tokenizer.json")
    args = downstream.reference_args("r", {"hf": str(folder)}, 1024, torch.device("cpu"))
    assert (args["max_length"], args["prefix_token_id"]) == (128, tok.token_to_id("<|bos|>"))
    assert args["pretrained"].dtype == torch.float32
    assert args["tokenizer"].convert_ids_to_tokens(3) == tok.id_to_token(3)
    args = downstream.reference_args("r", {"hf": str(folder), "start_token": "<|eos|>"}, 64, torch.device("cpu"))
    assert (args["max_length"], args["prefix_token_id"]) == (64, tok.token_to_id("<|eos|>"))
    with pytest.raises(InputError, match="no such GGUF file"):
        downstream.reference_args("r", {"gguf_path": str(tmp_path / "m.gguf")}, 1024, torch.device("cpu"))


def test_auto_batch_on_a_cpu_is_one_window_not_lm_evals_probe():
    assert windows.lm_eval_batch("auto", on_cpu=True) == windows.lm_eval_batch("auto:3", on_cpu=True) == 1
    assert windows.lm_eval_batch("auto", on_cpu=False) == "auto"  # lm-eval probes, catching CUDA OOM
    assert windows.lm_eval_batch(2, on_cpu=True) == 2


def rolling_settings(folder, target: str = "text") -> dict:
    """Settings of a custom lm-eval task over two local rows, scoring each row's `target`."""
    tasks = rolling_task(folder, "docs_rolling", ["a fish swims", "blub"], target, ("word_perplexity",))
    return {"tasks": ["docs_rolling"], "include_path": str(tasks), "device": "cpu", "batch_size": 1}


def test_a_task_lm_eval_does_not_know_is_named_before_any_model_loads(tmp_path):
    settings = rolling_settings(tmp_path / "tasks") | {"tasks": ["docs_rolling", "nosuch_task"]}
    with pytest.raises(InputError, match=r"evaluation.downstream.tasks: no task nosuch_task among lm-eval's own or"):
        downstream.evaluate_reference("ref", {"hf": str(tmp_path / "not-loaded")}, settings, 64)


def test_an_optional_reference_is_skipped_only_when_it_cannot_load(tmp_path):
    """A reference that loads but whose scoring fails (a task reading a field its rows lack)
    stops the job saying that scoring failed, and which run; one that cannot load is skipped."""
    folder = llama_folder(tmp_path / "ref")
    settings = rolling_settings(tmp_path / "tasks")
    scored = downstream.evaluate_reference("ref", {"hf": str(folder), "optional": True}, settings, 64)
    assert scored["tasks"]["docs_rolling"]["samples"] == 2 and scored["read"]["max_length"] == 64
    missing = downstream.evaluate_reference("gone", {"hf": str(tmp_path / "gone"), "optional": True}, settings, 64)
    assert set(missing) == {"name", "skipped"}
    broken = rolling_settings(tmp_path / "broken", target="{{body}}")  # a field its rows lack
    with pytest.raises(InputError, match=r"lm-eval failed scoring reference ref on docs_rolling \("):
        downstream.evaluate_reference("ref", {"hf": str(folder), "optional": True}, broken, 64)
