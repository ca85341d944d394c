"""Report pages: the JSON results become tables that keep every number and escape text."""

from minnow.workflow import report_pages


def ppl_result() -> dict:
    model = {"bits_per_byte": 1.45, "token_perplexity": 9.5, "tokens": 4000, "context": 256}
    ref = {"bits_per_byte": 1.07, "token_perplexity": 7.1, "tokens": 3500, "context": 1024}
    return {
        "model": {"name": "tiny", "parameters": 1_070_000, "vocab_size": 4096, "context": 256},
        "eval_sets": {
            "val-default": {
                "documents": 40,
                "bytes": 14000,
                "capped": True,
                "sha256": "ab" * 32,
                "model": model,
                "references": {"smol": ref, "gone": {"skipped": "no such file"}},
                "ranking_bits_per_byte": [
                    {"model": "smol", "bits_per_byte": 1.07},
                    {"model": "tiny", "bits_per_byte": 1.45},
                ],
            }
        },
    }


def test_perplexity_page_ranks_models_marks_ours_and_names_skipped_references():
    page = report_pages.perplexity_page(ppl_result())
    rows = page.split("<tr")
    smol_row = next(i for i, r in enumerate(rows) if "<td>smol</td>" in r)
    tiny_row = next(i for i, r in enumerate(rows) if "<td>tiny</td>" in r)
    assert smol_row < tiny_row, "lower bits per byte comes first"
    assert rows[tiny_row].startswith(" class=ours") and "1.4500" in rows[tiny_row]
    assert "1,070,000 parameters" in page and "(capped)" in page and "gone (no such file)" in page


def test_samples_page_keeps_chinese_and_escapes_markup():
    page = report_pages.samples_page("**user:** 你好\n\n<script>alert(1)</script>", "zh")
    assert "你好" in page and "<script>" not in page and "&lt;script&gt;" in page
    assert "<meta charset='utf-8'>" in page


def test_export_page_lists_every_scheme_and_gguf_file():
    quant = {
        "eval_set": {"bytes": 14000},
        "fp32": {"bytes": 4_000_000, "bits_per_byte": 1.45},
        "schemes": {
            "int8": {
                "bytes": 1_000_000,
                "compression_vs_fp32": 4.0,
                "bits_per_byte": 1.4501,
                "delta_bits_per_byte": 0.0001,
            }
        },
        "gguf": {
            "q8_0": {
                "file": "model-q8_0.gguf",
                "bytes": 1_200_000,
                "fallbacks": {},
                "kept_8bit": {},
                "llama_cpp": {"bits_per_byte": 1.4507, "delta_bits_per_byte": 0.0007},
            },
            "q4_0": {
                "file": "model-q4_0.gguf",
                "bytes": 700_000,
                "fallbacks": {"blk.0.ffn_down.weight": "F16"},
                "kept_8bit": {"token_embd.weight": "Q8_0"},
                "llama_cpp": {"skipped": "not installed"},
            },
        },
    }
    page = report_pages.export_page(quant, "tiny")
    assert "<td>int8</td><td>1,000,000</td><td>4.0000</td>" in page
    assert "<td>q8_0</td><td>1,200,000</td><td>1.4507</td><td>0.0007</td><td></td><td>model-q8_0.gguf</td>" in page
    assert "<td>token_embd.weight Q8_0, blk.0.ffn_down.weight F16</td><td>model-q4_0.gguf</td>" in page
    assert "Not scored: not installed" in page


def test_corpus_page_orders_steps_from_read_to_mix():
    stats = {
        "mix_by": "bytes",
        "sources": {
            "a": {
                "train": {"documents": 8, "bytes": 80},
                "in": {"documents": 10, "bytes": 100},
                "dropped_min_chars": {"documents": 2, "bytes": 4},
            }
        },
        "mix": {"a": {"factor": 1.0, "bytes": 80, "share": 1.0}},
    }
    page = report_pages.corpus_page(stats, "c")
    assert page.index("a: in") < page.index("a: dropped_min_chars") < page.index("a: train")


def test_corpus_page_says_which_source_each_duplicate_repeated():
    stats = {
        "mix_by": "bytes",
        "sources": {"exodus": {"in": {"documents": 40, "bytes": 400}}},
        "duplicates": {"exodus": {"exact_duplicate": {"kjv": 40}}},
        "mix": {"exodus": {"factor": 1.0, "bytes": 0, "share": 0.0}},
    }
    page = report_pages.corpus_page(stats, "bible")
    assert "<td>exodus</td><td>exact duplicate</td><td>kjv</td><td>40</td>" in page


def test_downstream_page_puts_the_model_beside_its_references_per_task():
    task = {"metrics": {"acc": 0.25, "acc_norm": 0.5}, "stderr": {}, "num_fewshot": 5, "samples": 100}
    ref = {**task, "metrics": {"acc": 0.75, "acc_norm": 0.8}}
    result = {
        "model": "tiny",
        "lm_eval": "0.4.13",
        "tasks": {"hellaswag": task},
        "references": {"smol": {"tasks": {"hellaswag": ref}}, "gone": {"skipped": "no hub"}},
    }
    page = report_pages.downstream_page(result)
    assert "<h2>hellaswag</h2>" in page and "<th>acc</th><th>acc_norm</th><th>few-shot</th>" in page
    assert "<tr class=ours><td>tiny</td><td>0.2500</td><td>0.5000</td><td>5</td><td>100</td></tr>" in page
    assert "<tr><td>smol</td><td>0.7500</td><td>0.8000</td>" in page and "gone (no hub)" in page
