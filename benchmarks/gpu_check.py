"""One GPU check that fits a short lease: each preset's speed and memory, CPU-vs-GPU agreement,
evaluation on the GPU equal to the CPU's, and the real DAG on cuda; a row printed as soon as known.

    bash benchmarks/gpu_check.sh       # all of it; sized for about 5 minutes on one H100/H200 (not yet timed)
    python benchmarks/gpu_check.py --presets tiny small --skip-dag

1. Per preset (tiny, small, medium, large), a fresh process trains a few steps with the
   preset's own settings (its precision, compile and micro_batch; large on one GPU): seconds
   to build the model and optimizer, the first step (compilation included), steady
   tokens/s and MFU (the steps after the first two), peak memory and the micro-batch that
   micro_batch auto chose. Each gets `--preset-seconds`; one that runs out or fails is a row
   saying so and how far it got, and the check goes on.
2. tiny on the CPU in fp32 against the device with its preset precision, `--agree-steps`
   steps from the same seed: the mean train loss must agree within `--tolerance`.
3. The DAG: `snakemake results/small/ppl.json` under config/gpu-check.yaml (small cut to a
   few hundred steps, the reference optional); train_summary.json, ppl.json and the samples
   step's MLflow run must say cuda.
4. The DAG's small model scored on its val set with evaluation.device cpu and the GPU:
   bits/byte equal to 1e-4.

Steps 1 and 2 train on the default corpus's shards (results/shards/default/, which
gpu_check.sh builds first), or on `--shards/--tokenizer` (the CPU smoke test's). The
table and results/gpu_check.json (every figure, every error) come at the end.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from bench_common import REPO, cpu_name

BIN = Path(sys.executable).parent
# steps each preset trains: enough for a steady figure after the first two, few enough that
# large (1.5B, 4 forwards of 16 x 2048 a step on an 80-140 GB card, plus its compile) fits its time
PRESETS = {"tiny": 20, "small": 20, "medium": 8, "large": 5}


def preset_spec(name: str, steps: int, device: str, precision: str | None = None) -> dict:
    """A shipped preset as this check trains it: its own settings, `steps` steps on one
    device, every step reported, no evaluation or checkpoint on the way."""
    from minnow.workflow.config import model_preset, with_defaults

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    spec = model_preset(config, name)
    overrides = {"steps": steps, "device": device, "gpus": 1, "log_every": 1, "eval_every": 10**9}
    overrides |= {"checkpoint_every": 10**9, "warmup_steps": min(spec["train"].get("warmup_steps", 0), steps - 1)}
    spec["train"] = {**spec["train"], **overrides, **({"precision": precision} if precision else {})}
    spec = with_defaults("model", spec)
    spec["vocab_rows"] = config["tokenizers"][spec["tokenizer"]]["vocab_size"]
    return spec


def data_for(spec: dict, shards: Path | None, tok: Path | None) -> tuple[Path, Path]:
    if shards:
        return shards, tok
    name = spec["tokenizer"]
    return REPO / "results/shards/default" / name, REPO / "results/tokenizers" / name / "tokenizer.json"


def work_train(name: str, steps: str, device: str, precision: str, shards: str, tok: str) -> dict:
    """One preset's run in this process, progress on stdout as it goes."""
    from minnow.model.param_count import embedding_rows
    from minnow.train import loop, settings

    spec = preset_spec(name, int(steps), device, precision or None)
    shards_dir, tok_json = data_for(spec, Path(shards) if shards else None, Path(tok) if tok else None)
    started = time.perf_counter()
    reports = []

    def on_metrics(step, metrics):
        reports.append(metrics)
        if step == 1:
            print(f"  first step done at {time.perf_counter() - started:.1f} s", flush=True)

    with tempfile.TemporaryDirectory() as checkpoints:
        model_cfg, cfg = settings.configs(spec, embedding_rows(spec["vocab_rows"]))
        trainer = loop.Trainer(model_cfg, cfg, shards_dir, tok_json, Path(checkpoints), on_metrics)
        built = time.perf_counter() - started
        print(f"  model built in {built:.1f} s (micro-batch {trainer.rows})", flush=True)
        result = trainer.run(progress=False)
    steady = reports[2:] or reports[-1:]
    mfu = [m["mfu"] for m in steady if "mfu" in m]
    return {
        "build_s": built,
        "first_step_s": trainer.tokens_per_step / reports[0]["tokens_per_s"],
        "tokens_per_s": float(np.mean([m["tokens_per_s"] for m in steady])),
        "mfu": float(np.mean(mfu)) if mfu else None,
        "peak_memory_mb": result["peak_memory_mb"],
        "micro_batch": result["micro_batch"],
        "params": result["params"],
        "losses": [loss for _, loss in result["history"]["train"]],
        "device": result["device"],
        "autocast": result["autocast"],
    }


def in_process(args: list[str], seconds: float) -> dict:
    """Run a worker in a fresh process, its progress lines echoed; its result, or an error
    saying how far it got (a timeout or a crash is a row, not the end of the check)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines, deadline = [], time.monotonic() + seconds
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if not line.startswith("{"):
                print(line.rstrip(), flush=True)
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(proc.args, seconds)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"error": f"no result within {seconds:.0f} s; last: {lines[-1] if lines else 'nothing printed'}"}
    if proc.returncode or not lines or not lines[-1].startswith("{"):
        return {"error": f"exit {proc.returncode}: " + " | ".join(lines[-3:])}
    return json.loads(lines[-1])


def preset_row(name: str, r: dict) -> str:
    if "error" in r:
        return f"| {name} | failed: {r['error']} |||||||"
    mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
    return (
        f"| {name} | {r['params'] / 1e6:.1f}M | {r['device']} {r['autocast']} | {r['build_s']:.1f} | "
        f"{r['first_step_s']:.1f} | {r['tokens_per_s']:,.0f} | {mfu} | {r['peak_memory_mb'] / 1024:.1f} | "
        f"{r['micro_batch']} |"
    )


def agreement(device: str, steps: int, tolerance: float, data: list[str], seconds: float) -> dict:
    """tiny's mean train loss over `steps` steps: the CPU in fp32 against `device` as the preset runs."""
    cpu = in_process(["train", "tiny", str(steps), "cpu", "fp32", *data], seconds)
    gpu = in_process(["train", "tiny", str(steps), device, "", *data], seconds)
    if "error" in cpu or "error" in gpu:
        return {"error": cpu.get("error") or gpu.get("error")}
    a, b = float(np.mean(gpu["losses"])), float(np.mean(cpu["losses"]))
    return {"device_loss": a, "cpu_loss": b, "difference": a - b, "ok": abs(a - b) < tolerance}


def dag(device: str, seconds: float) -> dict:
    """`snakemake results/small/ppl.json` (and its samples) under config/gpu-check.yaml; which
    device its train, perplexity and samples steps say they ran on."""
    targets = ["results/small/ppl.json", "results/small/samples.md"]
    cmd = [str(BIN / "snakemake"), "--cores", "all", *targets, "--configfile", "config/gpu-check.yaml"]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return {"error": f"snakemake did not finish within {seconds:.0f} s"}
    if proc.returncode:
        return {"error": "snakemake failed: " + proc.stderr[-1500:]}
    ppl = json.loads((REPO / "results/small/ppl.json").read_text())
    return {
        "seconds": time.perf_counter() - started,
        "train": json.loads((REPO / "results/small/train_summary.json").read_text())["device"],
        "perplexity": ppl["model"]["device"],
        "samples": samples_device(),
        "bits_per_byte": ppl["eval_sets"]["val-default"]["model"]["bits_per_byte"],
        "wanted": device,
    }


def samples_device() -> str | None:
    """The device the samples step logged to MLflow (its latest run)."""
    from mlflow.tracking import MlflowClient

    from minnow.workflow import tracking

    client = MlflowClient(tracking.tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.step = 'samples'", order_by=["attributes.start_time DESC"])
    return runs[0].data.params.get("device_used") if runs else None


def eval_agreement(device: str) -> dict:
    """The DAG's small model on its val set, scored on the CPU and on `device`, both fp32."""
    from minnow.eval.scoring import score_folder

    sets = {"val": REPO / "results/eval/val-default.jsonl"}
    protocol = {"stride_fraction": 1.0, "batch_tokens": 4096}
    scores = {}
    for where in ("cpu", device):
        started = time.perf_counter()
        scores[where] = score_folder(REPO / "results/small", sets, {**protocol, "device": where})["val"]
        print(f"  scored on {where} in {time.perf_counter() - started:.1f} s", flush=True)
    difference = scores[device]["bits_per_byte"] - scores["cpu"]["bits_per_byte"]
    return {"cpu": scores["cpu"]["bits_per_byte"], device: scores[device]["bits_per_byte"], "difference": difference}


def preset_table(results: dict) -> None:
    print("| preset | params | device | build s | first step s | tokens/s | MFU | peak GiB | micro-batch |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name, r in results.items():
        print(preset_row(name, r), flush=True)


def run_checks(args, device: str, out: dict) -> bool:
    """Every check in turn, each row printed when known; True where all passed."""
    data = [str(args.shards or ""), str(args.tokenizer or "")]
    preset_table({})
    for name in args.presets:
        steps = str(args.steps or PRESETS[name])
        out["presets"][name] = in_process(["train", name, steps, device, "", *data], args.preset_seconds)
        print(preset_row(name, out["presets"][name]), flush=True)
    out["agreement"] = agreement(device, args.agree_steps, args.tolerance, data, args.preset_seconds)
    print(f"tiny, CPU fp32 against {device}: {out['agreement']}", flush=True)
    ok = out["agreement"].get("ok", False) and all("error" not in r for r in out["presets"].values())
    if args.skip_dag:
        return ok
    out["dag"] = dag(device, args.dag_seconds)
    print(f"DAG results/small/ppl.json: {out['dag']}", flush=True)
    if "error" in out["dag"]:
        return False
    ok &= all(str(out["dag"][step]).startswith(device) for step in ("train", "perplexity", "samples"))
    out["eval"] = eval_agreement(device)
    print(f"eval on cpu and {device}: {out['eval']}", flush=True)
    return ok and abs(out["eval"]["difference"]) < 1e-4


def main(args) -> int:
    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if device is None:
        print("no CUDA device: this check needs a GPU (or --device cpu for a smoke run)")
        return 2
    gpu = torch.cuda.get_device_name() if device == "cuda" else "none"
    print(f"GPU: {gpu}; CPU: {cpu_name()}; torch {torch.__version__}\n", flush=True)
    out = {"gpu": gpu, "cpu": cpu_name(), "torch": torch.__version__, "device": device, "presets": {}}
    started = time.perf_counter()
    out["ok"] = run_checks(args, device, out)
    out["seconds"] = time.perf_counter() - started
    print()
    preset_table(out["presets"])
    print(f"\nall checks {'passed' if out['ok'] else 'did NOT pass'} in {out['seconds']:.0f} s; {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--steps", type=int, help="steps of every preset (default: PRESETS; 3+ for a steady figure)")
    parser.add_argument("--preset-seconds", type=float, default=90, help="time each preset's process gets")
    parser.add_argument("--agree-steps", type=int, default=20)
    parser.add_argument("--tolerance", type=float, default=0.02, help="of the mean loss, bf16 against fp32")
    parser.add_argument("--dag-seconds", type=float, default=150)
    parser.add_argument("--skip-dag", action="store_true")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default cuda; cpu only smoke-tests this script")
    parser.add_argument("--shards", type=Path, help="shards to train on instead of the default corpus's")
    parser.add_argument("--tokenizer", type=Path, help="the tokenizer.json of --shards")
    parser.add_argument("--out", type=Path, default=REPO / "results/gpu_check.json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(work_train(*args.worker[1:])), flush=True)
    else:
        sys.exit(main(args))
