"""`precision: auto` on a CPU: the faster of bf16 autocast and fp32, timed on the run's own model.

A CPU that multiplies bf16 in hardware is not always faster in bf16. With AMX, bf16
matmuls run about twice as fast as fp32; with AVX512-BF16 alone (an Intel Xeon
without AMX, AMD Zen 4), oneDNN's bf16 path can lose to fp32 at small widths
(docs/BENCHMARKS.md). So `auto` times both: a forward and backward of one
micro-batch in each dtype, after a warm-up, best of a few. The weights are untouched
(no optimizer step, gradients cleared) and the global RNG is restored, so the run
then computes what it would have. The answer is cached per CPU, thread count and
shape ($XDG_CACHE_HOME/minnow/precision.json), so later runs on the machine start at
once. A CPU without bf16 hardware stays fp32 without timing anything, and so does a
run over several CPU ranks, which must all choose alike (bf16 there, as before).

Which dtype ran is recorded (train_summary.json's `autocast`), not fingerprinted:
like micro_batch, it changes rounding, not what the run computes, and a run that
resumes on another machine continues its checkpoint.
"""

import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from minnow import devices
from minnow.atomic import write_json

log = logging.getLogger(__name__)

REPEATS = 3  # timed passes per dtype, after one warm-up; the best counts
DTYPES = {"bf16": torch.bfloat16, "fp32": None}


def cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minnow" / "precision.json"


def resolve(model, rows: int, device: torch.device, setting: str, world: int) -> tuple[torch.dtype | None, dict | None]:
    """The autocast dtype the run uses (None: fp32), and the timings that chose it, if any."""
    dtype = devices.autocast_dtype(device, setting)
    if setting != "auto" or device.type != "cpu" or dtype is None or world > 1:
        return dtype, None
    timings = probe(model, rows)
    chosen = max(timings, key=timings.get)
    log.info("precision auto: %s (bf16 %.0f, fp32 %.0f tokens/s)", chosen, timings["bf16"], timings["fp32"])
    return DTYPES[chosen], timings


def probe(model, rows: int) -> dict[str, float]:
    """Tokens per second of a forward and backward pass in each dtype, from the cache if timed before."""
    key = json.dumps({"cpu": cpu_name(), "threads": torch.get_num_threads(), "rows": rows, **model.cfg.to_dict()})
    path = cache_path()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):  # no cache yet, or one cut short: time again
        cache = {}
    if key not in cache:
        rng = torch.get_rng_state()
        x = torch.randint(model.cfg.vocab_size, (rows, model.cfg.context))
        tokens = rows * model.cfg.context
        cache[key] = {name: tokens / seconds_per_pass(model, x, dtype) for name, dtype in DTYPES.items()}
        torch.set_rng_state(rng)
        write_json(path, cache)
    return cache[key]


def seconds_per_pass(model, x: torch.Tensor, dtype: torch.dtype | None) -> float:
    """The best of REPEATS forward and backward passes on `x` under `dtype`'s autocast."""
    best, was_training = math.inf, model.training
    model.train()
    for i in range(REPEATS + 1):  # the first warms the kernels up
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            _, loss = model(x, x)
        loss.backward()
        best = min(best, time.perf_counter() - start) if i else best
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return best


def cpu_name() -> str:
    """This CPU's model name, as /proc/cpuinfo gives it (empty where unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return ""
