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


def test_auto_precision_on_cpu_is_bf16_exactly_where_the_cpu_has_it():
    from minnow.devices import autocast_dtype, cpu_has_bf16

    assert autocast_dtype(torch.device("cpu"), "auto") == (torch.bfloat16 if cpu_has_bf16() else None)
    assert autocast_dtype(torch.device("cpu"), "fp32") is None
