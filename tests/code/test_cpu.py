from __future__ import annotations

import platform

import pytest

from badbuzz.cpu import cpu_flags, cpu_summary


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86 flags")
def test_reads_this_machines_flags() -> None:
    flags = cpu_flags()
    assert "sse2" in flags  # every x86-64 CPU has it
    summary = cpu_summary()
    assert summary["machine"] == "x86_64"
    assert summary["tensorflow_can_run"] == ("avx" in flags)  # x86: needs AVX
