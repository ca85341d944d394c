"""The real-data configs (config/<name>.yaml) as shipped, run offline on local stand-ins.

Each test loads the config file itself, swaps only where its data lives (a Hugging
Face dataset id for a local folder laid out like that dataset, with its column
names, read through the real `datasets` library with the Hub switched off; a local
path for a generated file) and shrinks model shape, steps and caps to test scale.
Corpus, filters, tokenizer, eval sets and loss settings stay as the config has
them, and the real Snakemake merges the file over config/config.yaml as it does for
a user's `snakemake --cores all --configfile config/<name>.yaml`.
"""

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from snakemake.utils import update_config, validate

from minnow.data.normalize import normalize_text
from minnow.eval import eval_sets
from minnow.model.param_count import embedding_rows
from minnow.tokens import tokenizer
from minnow.tokens.shards import TokenShards
from minnow.workflow import checks

from conftest import REPO, planned_rules, snakemake, special_ids

SCHEMA = str(REPO / "config" / "schema" / "config.schema.yaml")
NAMES = ["tinystories", "fineweb-edu", "wikitext103", "shakespeare", "chinese-instruct"]


# what a bare `snakemake --configfile config/<name>.yaml` must plan: the config's own data
# only, none of the default config's; a source in P parts is P download, prepare_part and mix_part
# jobs and 2P shard_part jobs per tokenizer
def plan(parts: int, tokenizers: int = 1, eval_sets: int = 1) -> dict[str, int]:
    return {
        "download": parts,
        "prepare_part": parts,
        "dedup": 1,
        "mix_part": parts,
        "train_tokenizer": tokenizers,
        "shard_part": 2 * parts * tokenizers,
        "shard": tokenizers,
        "train": tokenizers,
        "eval_set": eval_sets,
    }


PLANS = {
    "tinystories": plan(3),
    "fineweb-edu": plan(10),
    "wikitext103": plan(1, eval_sets=2),
    "shakespeare": plan(1, tokenizers=2),
    "chinese-instruct": plan(1),
}
TEST_SHAPE = {"d_model": 32, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "ffn_dim": 64, "context": 64}
# a model this small learns fastest at a higher rate than the configs' 1-2e-3
TEST_TRAIN = {
    "steps": 120,
    "batch_size": 8,
    "lr": 1e-2,
    "min_lr": 1e-3,
    "warmup_steps": 10,
    "eval_every": 120,
    "eval_batches": 2,
    "checkpoint_every": 120,
    "device": "cpu",
}


def shipped(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())


def merged(overlay: dict) -> dict:
    """The config Snakemake runs: config/config.yaml with `overlay` merged over it, validated."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(config, overlay)
    validate(config, SCHEMA)
    return config


RENDER = """
import json, sys
from minnow.inference.chat import Assistant
from minnow.inference.samples import render
print(json.dumps(render([Assistant.load(sys.argv[1])], json.loads(sys.argv[2]))))
"""


def assert_samples_are_the_models_own(folder: Path, model: str, overlay: dict) -> str:
    """samples.md is what the trained model folder says to the config's prompts (greedy, so
    exactly reproducible), decoded by its own tokenizer; returns the page. Rendered again in a
    fresh process on one thread, as the samples job is (Snakemake sets OMP_NUM_THREADS to the
    rule's threads), not with this worker's settings: sums in another order could tip a
    near-tie of the model's one greedy step the other way."""
    page = (folder / f"results/{model}/samples.md").read_text(encoding="utf-8")
    spec, env = json.dumps(merged(overlay)["samples"]), {**os.environ, "OMP_NUM_THREADS": "1"}
    again = subprocess.run(
        [sys.executable, "-c", RENDER, str(folder / f"results/{model}"), spec], capture_output=True, text=True, env=env
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == page
    return page


@pytest.fixture
def offline(tmp_path) -> dict:
    """Environment for Snakemake's jobs: the Hub unreachable by choice, caches in tmp_path."""
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}


def run(folder: Path, overlay: dict, *targets: str, env: dict | None = None):
    """Snakemake on `targets` with `overlay` merged over the workflow's config/config.yaml."""
    path = folder / "real-data.yaml"
    path.write_text(yaml.safe_dump(overlay, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return snakemake(folder, *targets, "--configfile", str(path), env=env)


def shrink(overlay: dict, models: list[str]) -> None:
    """Test-scale shape and steps for `models`, and short samples; loss_on and the rest stay."""
    for name in models:
        spec = overlay["models"][name]
        spec.update(TEST_SHAPE, params=None)
        spec["train"] = {**spec.get("train", {}), **TEST_TRAIN}
    overlay["samples"]["max_tokens"] = 24


# --- stand-in text ------------------------------------------------------------------------------------


def english_words() -> list[str]:
    """Real English words from the Python docs that ship with every interpreter."""
    from pydoc_data.topics import topics

    return sorted({w for text in topics.values() for w in re.findall(r"\b[a-z]{2,10}\b", text)})


def prose(rng: random.Random, vocabulary: list[str], sentences: int) -> str:
    """Sentences of random words: varied enough to pass the repetition filter, as real text does."""
    out = []
    for _ in range(sentences):
        sentence = " ".join(rng.choice(vocabulary) + rng.choice(["", "", "", ","]) for _ in range(rng.randint(6, 14)))
        out.append(sentence[0].upper() + sentence[1:].rstrip(",") + rng.choice(".!?"))
    return " ".join(out)


def write_parquet(path: Path, rows: list[dict]) -> list[dict]:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return rows


def hf_readme(folder: Path, configs: dict[str, dict[str, str]]) -> None:
    """A dataset card declaring configurations, as the Hub repositories of FineWeb-Edu and WikiText do."""
    folder.mkdir(parents=True)
    card = [
        {"config_name": name, "data_files": [{"split": s, "path": p} for s, p in splits.items()]}
        for name, splits in configs.items()
    ]
    (folder / "README.md").write_text("---\n" + yaml.safe_dump({"configs": card}, sort_keys=False) + "---\n")


def fresh_folder(path: Path) -> Path:
    """An empty folder at `path`, where a local config expects its data (a clone has none)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def text_bytes(rows: list[dict]) -> list[int]:
    return [sum(len(v.encode()) for v in row.values() if isinstance(v, str)) for row in rows]


# --- shared checks ------------------------------------------------------------------------------------


def split_texts(folder: Path, corpus: str, split: str) -> list[str]:
    """A corpus split's texts, its parts in order."""
    parts = sorted((folder / f"results/corpus/{corpus}/{split}").glob("*/part-*.parquet"))
    return [t for p in parts for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]


def assert_capped(folder: Path, source: str, rows: list[dict], max_bytes: int, part: int = 0) -> list[dict]:
    """A download part kept its share of the dataset's first records, in order, up to the byte
    cap; returns them."""
    kept = pq.read_table(folder / f"results/raw/{source}/part-{part:05d}/data.parquet").to_pylist()
    sizes = text_bytes(rows)
    assert 0 < len(kept) < len(rows)
    assert kept == rows[: len(kept)]
    assert sum(sizes[: len(kept) - 1]) < max_bytes <= sum(sizes[: len(kept)])
    return kept


def assert_shards_hold_the_corpus(folder: Path, corpus: str, tok_name: str, vocab_size: int) -> None:
    """The tokenizer is the config's kind within its size, and the train shards decode back
    to the train split's documents, one per EOS."""
    tok_json = folder / f"results/tokenizers/{tok_name}/tokenizer.json"
    tok = tokenizer.load(tok_json)
    assert tokenizer.kind_of(json.loads(tok_json.read_text())) == "bpe" and tok.get_vocab_size() <= vocab_size
    texts = split_texts(folder, corpus, "train")
    shards = folder / f"results/shards/{corpus}/{tok_name}"
    ids = np.concatenate([np.asarray(a) for a in TokenShards(shards, "train").arrays]).tolist()
    eos = special_ids(tok)["eos"]
    documents, start = [], 0
    for i, token in enumerate(ids):
        if token == eos:
            documents.append(tok.decode(ids[start:i]))
            start = i + 1
    assert documents == texts and len(texts) > 10


def gguf_fields(path: Path) -> dict:
    import gguf

    return {k: f.contents() for k, f in gguf.GGUFReader(path).fields.items()}


def mlflow_param(folder: Path, step: str, key: str) -> str:
    with sqlite3.connect(folder / "results" / "mlflow.db") as db:
        return db.execute(
            "select p.value from params p join tags t on t.run_uuid = p.run_uuid "
            "where t.key = 'step' and t.value = ? and p.key = ?",
            (step, key),
        ).fetchone()[0]


# --- every config -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_config_merges_over_the_default_into_a_valid_run_of_its_own_data(name):
    import torch

    from minnow.model.transformer import Transformer
    from minnow.train.settings import preset_model_config

    header = (REPO / "config" / f"{name}.yaml").read_text().split("\n\n")[0]
    for part in ("Downloads:", "Trains:", "Time:", f"snakemake --cores all --configfile config/{name}.yaml"):
        assert part in header, part
    config = merged(shipped(name))
    checks.check(config)
    own = shipped(name)
    assert config["targets"] == own["targets"] and config["experiment"] == own["experiment"]
    for target in config["targets"]:
        model = config["models"][target]
        assert model["corpus"] in own["corpora"] and model["tokenizer"] in own["tokenizers"]
        assert config["tokenizers"][model["tokenizer"]]["corpus"] == model["corpus"]
        rows = embedding_rows(config["tokenizers"][model["tokenizer"]]["vocab_size"])
        model_cfg = preset_model_config(model, rows)
        with torch.device("meta"):
            params = Transformer(model_cfg).num_params()
        assert params == pytest.approx(float(model["params"]), rel=0.10), f"{target}: {params / 1e6:.2f}M"


@pytest.mark.parametrize("name", NAMES)
def test_snakemake_plans_only_the_configs_own_data(workflow_copy, name):
    plan = planned_rules(workflow_copy, "--configfile", f"config/{name}.yaml")
    assert {rule: plan.get(rule, 0) for rule in PLANS[name]} == PLANS[name]
    assert plan["perplexity"] == plan["samples"] == plan["export"] == len(shipped(name)["targets"])
    suite = "downstream" in shipped(name).get("evaluation", {})  # the real-data configs run lm-eval's suite
    assert (
        plan.get("downstream", 0) == plan.get("report_downstream", 0) == (len(shipped(name)["targets"]) if suite else 0)
    )
    assert plan.get("reference_downstream", 0) == (1 if suite else 0)


# --- Hugging Face sources -----------------------------------------------------------------------------


def test_tinystories_streams_a_capped_sample_into_corpus_tokenizer_and_shards(workflow_copy, tmp_path, offline):
    rng, vocabulary = random.Random(1), english_words()
    stand_in = tmp_path / "TinyStories"  # the Hub repository's layout: data/{split}-NNNNN-of-NNNNN.parquet
    stories = write_parquet(
        stand_in / "data/train-00000-of-00001.parquet",
        [{"text": f"Once upon a time, {prose(rng, vocabulary, 5)}"} for _ in range(400)],
    )
    write_parquet(stand_in / "data/validation-00000-of-00001.parquet", [{"text": "Held out by the dataset."}])
    overlay = shipped("tinystories")
    source = overlay["sources"]["tinystories"]
    assert source["path"] == "roneneldan/TinyStories"
    source.update(path=str(stand_in), max_bytes=60_000)
    run(workflow_copy, overlay, "results/shards/tinystories/ts8k/meta.json", env=offline)

    kept = assert_capped(workflow_copy, "tinystories", stories, 60_000)
    manifest = json.loads((workflow_copy / "results/raw/tinystories/part-00000/manifest.json").read_text())
    assert manifest["origin"] == f"hf:{stand_in}/train" and manifest["documents"] == len(kept)
    assert_shards_hold_the_corpus(workflow_copy, "tinystories", "ts8k", 8192)


def test_fineweb_edu_reads_its_named_configuration_with_its_columns(workflow_copy, tmp_path, offline):
    rng, vocabulary = random.Random(2), english_words()
    stand_in = tmp_path / "fineweb-edu"
    hf_readme(stand_in, {"default": {"train": "data/*/*"}, "sample-10BT": {"train": "sample/10BT/*"}})

    def page(i: int, dump: str) -> dict:  # FineWeb-Edu's columns
        return {
            "text": prose(rng, vocabulary, 12),
            "id": f"<urn:uuid:{i:08d}-0000-0000-0000-000000000000>",
            "dump": dump,
            "url": f"https://example.org/page/{i}",
            "file_path": f"s3://commoncrawl/{dump}/{i}.warc.gz",
            "language": "en",
            "language_score": 0.95,
            "token_count": 300,
            "score": 3.1,
            "int_score": 3,
        }

    files = [
        write_parquet(
            stand_in / f"sample/10BT/{f:03d}_00000.parquet", [page(f * 1000 + i, "CC-MAIN-2024-10") for i in range(100)]
        )
        for f in range(3)
    ]
    write_parquet(stand_in / "data/CC-MAIN-2013-20/000_00000.parquet", [page(i, "CC-MAIN-2013-20") for i in range(5)])
    overlay = shipped("fineweb-edu")
    source = overlay["sources"]["fineweb-edu"]
    assert (source["path"], source["name"], source["parts"]) == ("HuggingFaceFW/fineweb-edu", "sample-10BT", 10)
    source.update(path=str(stand_in), max_bytes=120_000, parts=3)  # small fake parts: a data file each
    run(workflow_copy, overlay, "results/shards/fineweb-edu/fw32k/meta.json", env=offline)

    for part, pages in enumerate(files):  # each part streamed its own file, to its share of the cap
        kept = assert_capped(workflow_copy, "fineweb-edu", pages, 40_000, part)
        assert {r["dump"] for r in kept} == {"CC-MAIN-2024-10"}  # sample-10BT's files, not the default config's
    assert_shards_hold_the_corpus(workflow_copy, "fineweb-edu", "fw32k", 32000)


def wikitext_rows(rng: random.Random, vocabulary: list[str], articles: int) -> list[dict]:
    """Rows as WikiText's `text` column has them: blank rows, " = Title = " headings, paragraphs."""
    rows = []
    for _ in range(articles):
        rows += [{"text": ""}, {"text": f" = {prose(rng, vocabulary, 1)[:-1]} = \n"}, {"text": ""}]
        rows += [{"text": f" {prose(rng, vocabulary, 4)} \n"} for _ in range(4)]
    return rows


def test_wikitext103_trains_on_train_and_scores_the_test_split(workflow_copy, tmp_path, offline):
    rng, vocabulary = random.Random(3), english_words()
    stand_in = tmp_path / "wikitext"
    hf_readme(
        stand_in,
        {
            f"wikitext-{size}-raw-v1": {s: f"wikitext-{size}-raw-v1/{s}-*" for s in ("test", "train")}
            for size in ("2", "103")
        },
    )
    train = write_parquet(
        stand_in / "wikitext-103-raw-v1/train-00000-of-00001.parquet", wikitext_rows(rng, vocabulary, 40)
    )
    test = write_parquet(
        stand_in / "wikitext-103-raw-v1/test-00000-of-00001.parquet", wikitext_rows(rng, vocabulary, 4)
    )
    for split in ("train", "test"):
        write_parquet(
            stand_in / f"wikitext-2-raw-v1/{split}-00000-of-00001.parquet", [{"text": "the other configuration"}]
        )
    overlay = shipped("wikitext103")
    test_set = overlay["evaluation"]["eval_sets"]["wikitext103-test"]
    assert {overlay["sources"]["wikitext103"]["path"], test_set["path"]} == {"Salesforce/wikitext"}
    overlay["sources"]["wikitext103"]["path"] = test_set["path"] = str(stand_in)
    run(
        workflow_copy,
        overlay,
        "results/shards/wikitext103/wt32k/meta.json",
        "results/eval/wikitext103-test.jsonl",
        env=offline,
    )

    assert pq.read_table(workflow_copy / "results/raw/wikitext103/part-00000/data.parquet").to_pylist() == train
    stats = json.loads((workflow_copy / "results/corpus/wikitext103/stats.json").read_text())
    blank = sum(1 for r in train if not r["text"].strip())
    assert stats["sources"]["wikitext103"]["dropped_length"]["documents"] >= blank
    assert_shards_hold_the_corpus(workflow_copy, "wikitext103", "wt32k", 32000)
    scored = eval_sets.read_documents(workflow_copy / "results/eval/wikitext103-test.jsonl")
    pages = "".join(r["text"] for r in test).split(" = ")[1::2]  # each article's title
    assert len(scored) == 4 and [d.split(" = ")[1] for d in scored] == pages  # a document per article
    assert "".join(scored) == "".join(r["text"] for r in test)  # the whole split, fits max_bytes
    meta = json.loads((workflow_copy / "results/eval/wikitext103-test.json").read_text())
    assert meta["spec"]["name"] == "wikitext-103-raw-v1" and meta["spec"]["split"] == "test" and not meta["capped"]


# --- local sources, end to end ------------------------------------------------------------------------


def play(rng: random.Random, vocabulary: list[str], speeches: int) -> str:
    """A play as tinyshakespeare lays it out: "NAME:" then the lines, speeches apart by a blank line."""
    names = ["ROMEO", "JULIET", "First Citizen", "MENENIUS", "All"]
    return "\n\n".join(f"{rng.choice(names)}:\n{prose(rng, vocabulary, rng.randint(1, 3))}\n" for _ in range(speeches))


@pytest.mark.slow
def test_shakespeare_char_model_runs_to_samples(workflow_copy):
    rng = random.Random(4)
    text = play(rng, rng.sample(english_words(), 300), 400)
    (fresh_folder(workflow_copy / "data/shakespeare") / "input.txt").write_text(text, encoding="utf-8")
    overlay = shipped("shakespeare")
    assert overlay["sources"]["shakespeare"]["paths"] == ["data/shakespeare/input.txt"]
    shrink(overlay, ["shakespeare-char"])
    run(
        workflow_copy,
        overlay,
        "results/shakespeare-char/samples.md",
        "results/shakespeare-char/export/quant.json",
        "results/shards/shakespeare/shakespeare-bpe1k/meta.json",
    )

    tok = tokenizer.load(workflow_copy / "results/shakespeare-char/tokenizer.json")
    train, val = (split_texts(workflow_copy, "shakespeare", split) for split in ("train", "val"))
    assert len(train) == len(val) == 1  # one stream, its tail held out as nanoGPT holds it out
    assert train[0] + val[0] == normalize_text(text) and train[0].endswith("\n\n")  # cut where a speech starts
    assert 0.09 < len(val[0].encode()) / len(normalize_text(text).encode()) <= 0.1
    specials = set(tokenizer.SPECIAL_TOKENS.values())
    characters = set(tok.get_vocab()) - specials - set(tokenizer.BYTE_TOKENS)
    assert characters == set("".join(train))  # min_frequency 1: every character of the train split, no other
    cap = overlay["tokenizers"]["shakespeare-chars"]["vocab_size"]
    assert tok.get_vocab_size() == len(specials) + len(characters) + 256 <= cap
    page = assert_samples_are_the_models_own(workflow_copy, "shakespeare-char", overlay)
    prompts = "".join(overlay["samples"]["prompts"])
    continued = "".join(re.findall(r"^> ?(.*)$", page, flags=re.M))  # each prompt and what the model added
    assert "**ROMEO:**" in page and len(continued) > len(prompts)
    assert set(continued) - set(prompts) <= characters  # greedy decoding never picks an untrained byte token
    meta = json.loads((workflow_copy / "results/shards/shakespeare/shakespeare-bpe1k/meta.json").read_text())
    assert meta["splits"]["train"]["documents"] == len(train)
    quant = json.loads((workflow_copy / "results/shakespeare-char/export/quant.json").read_text())
    assert 0 < quant["fp32"]["bits_per_byte"] < 8 and set(quant["gguf"]) == {"f32", "f16", "q8_0", "q4_0"}
    scored = quant["gguf"]["f32"]["llama_cpp"]  # llama.cpp computes the char model's loss from its GGUF
    assert "skipped" in scored or abs(scored["delta_bits_per_byte"]) < 1e-3
    gguf = gguf_fields(workflow_copy / "results/shakespeare-char/export/model-q8_0.gguf")
    assert gguf["tokenizer.ggml.model"] == "llama"  # the char tokenizer as a SentencePiece vocabulary
    assert gguf["tokenizer.ggml.tokens"][: tok.get_vocab_size()] == [
        tok.id_to_token(i).replace(" ", "\u2581") for i in range(tok.get_vocab_size())
    ]


def test_a_local_config_without_its_file_says_which_path_to_fill(workflow_copy):
    proc = snakemake(
        workflow_copy, "results/corpus/shakespeare/stats.json", "--configfile", "config/shakespeare.yaml", check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "source 'shakespeare': local source: 'data/shakespeare/input.txt' matches no file" in out


def chinese_pairs(rng: random.Random, count: int) -> list[dict]:
    """Question/answer pairs of Han characters drawn Zipf-like from a fixed pool, as characters
    occur in real text; each answer opens with 好的，as assistants' answers often do."""
    pool = [chr(c) for c in rng.sample(range(0x4E00, 0x9FA5), 300)]
    weights = [1 / (i + 1) for i in range(len(pool))]  # Zipf-like, as characters in real text

    def phrase(n: int) -> str:
        return "".join(rng.choices(pool, weights, k=n))

    return [
        {
            "prompt": f"请问{phrase(rng.randint(4, 10))}？",
            "completion": f"好的，{phrase(rng.randint(10, 30))}。{phrase(rng.randint(6, 20))}！",
        }
        for _ in range(count)
    ]


@pytest.mark.slow
def test_chinese_instruct_trains_on_answers_and_samples_round_trip(workflow_copy):
    # and two whole exchanges under the default 16-character floor, which the config must keep
    pairs = chinese_pairs(random.Random(5), 600) + [
        {"prompt": "你好", "completion": "你好！"},
        {"prompt": "中国的首都是哪里？", "completion": "北京。"},
    ]
    lines = [json.dumps(p, ensure_ascii=False) for p in pairs]
    jsonl = fresh_folder(workflow_copy / "data/chinese-instruct") / "pairs.jsonl"  # where the config reads it
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    overlay = shipped("chinese-instruct")
    assert overlay["models"]["chinese-instruct"]["train"]["loss_on"] == "answers"
    shrink(overlay, ["chinese-instruct"])
    run(workflow_copy, overlay, "results/chinese-instruct/samples.md")

    stats = json.loads((workflow_copy / "results/corpus/chinese-instruct/stats.json").read_text())
    assert [k for k in stats["totals"] if k.startswith("dropped_")] == []  # no filter drops a Chinese pair
    assert mlflow_param(workflow_copy, "train", "model.train.loss_on") == "answers"
    tok = tokenizer.load(workflow_copy / "results/chinese-instruct/tokenizer.json")
    page = assert_samples_are_the_models_own(workflow_copy, "chinese-instruct", overlay)
    questions = shipped("chinese-instruct")["samples"]["chat"]
    for question in questions:
        assert tok.decode(tok.encode(question, add_special_tokens=False).ids) == question
        assert f"**user:** {question}" in page
    answers = re.findall(r"^\*\*chinese-instruct:\*\* (.*)$", page, flags=re.M)
    assert len(answers) == len(questions)  # what the answers say is the model's, not asserted
