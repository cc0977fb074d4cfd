"""CPU features, read from /proc/cpuinfo without importing anything heavy: TensorFlow's
wheels need AVX (and are built for AVX2), so this is checked before it is ever imported."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

INTERESTING = ("avx", "avx2", "avx512f", "fma", "sse4_2")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """The first processor's model name and flags, as /proc/cpuinfo lists them."""

    model: str
    flags: frozenset[str]


def parse_cpuinfo(text: str) -> CpuInfo:
    """Model name and flags of the first processor listed (x86 `flags`, ARM `Features`)."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model, flags)


@cache
def cpu_info() -> CpuInfo:
    try:
        return parse_cpuinfo(CPUINFO.read_text())
    except OSError:  # not Linux, or /proc not mounted: nothing known
        return CpuInfo("", frozenset())


def cpu_flags() -> frozenset[str]:
    return cpu_info().flags


def tensorflow_can_run(flags: frozenset[str], machine: str) -> bool:
    # x86 wheels are built for AVX; other machines have no such flag to check
    return "avx" in flags or not is_x86(machine)


def is_x86(machine: str) -> bool:
    return machine.lower() in ("x86_64", "amd64", "i386", "i686") or machine.startswith("x86")


def cpu_summary() -> dict[str, object]:
    flags = cpu_flags()
    machine = platform.machine()
    return {
        "machine": machine,
        "flags": {name: name in flags for name in INTERESTING},
        "tensorflow_can_run": tensorflow_can_run(flags, machine),
    }
