"""What downstream.json keeps of lm-eval's results, and how few-shot counts group tasks."""

from minnow.eval import downstream


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


def test_references_become_lm_eval_model_arguments(tmp_path):
    assert downstream.reference_args({"hf": "gpt2", "revision": "abc"}) == {
        "pretrained": "gpt2",
        "dtype": "float32",
        "revision": "abc",
    }
    gguf = tmp_path / "m.gguf"
    assert downstream.reference_args({"gguf_path": str(gguf)}) == {
        "pretrained": str(tmp_path),
        "gguf_file": "m.gguf",
        "dtype": "float32",
    }
