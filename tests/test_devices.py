"""Device and precision choice: bf16 where the CPU has bf16 dot products."""

import pytest
import torch


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu avx2 avx512f avx512_bf16 avx512_fp16", True),  # AMD Zen 4
        ("fpu avx2 avx512f amx_bf16 amx_tile amx_int8", True),  # Intel Sapphire Rapids
        ("fpu sse4_2 avx2 fma", False),  # no bf16 dot products
    ],
)
def test_cpu_bf16_is_read_from_the_cpu_flags(flags, expected):
    from minnow.devices import cpu_has_bf16

    cpuinfo = f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n"
    assert cpu_has_bf16(cpuinfo) is expected
    assert cpu_has_bf16("") is False


ZEN4 = "fpu avx2 avx512f avx512_bf16 avx512_fp16"
NO_BF16 = "fpu sse4_2 avx2 fma"


@pytest.mark.parametrize("flags, auto", [(ZEN4, torch.bfloat16), (NO_BF16, None)], ids=["zen4", "no-bf16"])
def test_auto_precision_on_cpu_is_bf16_exactly_where_the_cpu_has_it(monkeypatch, flags, auto):
    from minnow import devices

    # This machine's CPU as one with (or without) bf16 dot products: what cpu_has_bf16 reads.
    cpuinfo, read_flags = f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n", devices.cpu_flags
    monkeypatch.setattr(devices, "cpu_flags", lambda text=None: read_flags(cpuinfo if text is None else text))
    cpu = torch.device("cpu")
    assert devices.autocast_dtype(cpu, "auto") is auto
    assert devices.autocast_dtype(cpu, "fp32") is None
    assert devices.autocast_dtype(cpu, "bf16") is torch.bfloat16
