"""Where training and evaluation run: device choice, mixed precision, distributed setup, peak FLOP/s."""

import datetime
import os

import torch
import torch.distributed as dist

from minnow.errors import InputError

# Peak dense bf16 FLOP/s by device name, most specific name first (an "L40S" is not an "L4").
PEAK_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("4090", 165e12),
)


def pick_device(preference: str = "auto") -> torch.device:
    """cuda (this rank's GPU) > mps > cpu, unless the config names one."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if preference == "auto":
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    return torch.device(preference)


def available_device(preference: str = "auto") -> torch.device:
    """`pick_device`, refusing a device this machine does not have (a config naming cuda
    run on a laptop) with a message instead of a crash deep inside the first `.to()`."""
    device = pick_device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda: no CUDA GPU is available here (set the device to auto or cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError("device mps: no Apple GPU is available here (set the device to auto or cpu)")
    return device


def eval_device(preference: str = "auto") -> torch.device:
    """Where a stage scores or samples a model (`evaluation.device`), in exact fp32: TF32 off,
    so that a GPU's bits/byte equal the CPU's to 1e-4 and a figure does not depend on the card."""
    allow_tf32("fp32")
    return available_device(preference)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32. `auto`: bf16 on CUDA where supported,
    else fp16; bf16 on CPUs with bf16 dot products (AVX512-BF16 or AMX), where matmuls run
    about twice as fast (docs/BENCHMARKS.md); fp32 on other CPUs and MPS."""
    if precision == "auto" and device.type == "cpu":
        return torch.bfloat16 if cpu_has_bf16() else None
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """This CPU's instruction-set flags as Linux lists them (empty where unknown)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return set()
    return set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 in hardware (False where unknown)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))


def allow_tf32(precision: str) -> None:
    """TF32 matmuls on Ampere+ unless the config asked for true fp32."""
    torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
    torch.backends.cudnn.allow_tf32 = precision != "fp32"


def tune_cpu(threads: int | None) -> None:
    """Use the job's threads, and flush denormal floats to zero: as a small model
    trains, tiny gradients go subnormal and each op on them takes the slow path
    (seen here: a tiny run fell from 10 000 to 1 100 tokens/s halfway through)."""
    if threads:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def peak_flops(device: torch.device) -> float | None:
    """The device's peak bf16 FLOP/s where known, for MFU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_FLOPS if key in name), None)


# A rank waits this long in a collective for the others before the job fails (not hangs):
# longer than any step, checkpoint or evaluation between two collectives.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=15)


def rank_and_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_distributed() -> None:
    """Join the process group torchrun set up (nccl on CUDA, gloo on CPU); no-op alone."""
    if rank_and_world()[1] > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=COLLECTIVE_TIMEOUT)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
