"""CPU features, read from /proc/cpuinfo without importing anything heavy: TensorFlow's
wheels need AVX (and are built for AVX2), so this is checked before it is ever imported."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

INTERESTING = ("avx", "avx2", "avx512f", "fma", "sse4_2")


@cache
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_summary() -> dict[str, object]:
    flags = cpu_flags()
    return {
        "machine": platform.machine(),
        "flags": {name: name in flags for name in INTERESTING},
        # x86 wheels are built for AVX; other machines have no such flag to check
        "tensorflow_can_run": "avx" in flags or not platform.machine().startswith(("x86", "AMD")),
    }
