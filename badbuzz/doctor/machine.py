"""The machine itself: what the CPU offers (AVX, AVX2, AVX-512) and the disk left under
BADBUZZ_HOME."""

from __future__ import annotations

import shutil
from pathlib import Path

from badbuzz.cpu import CpuInfo, is_x86
from badbuzz.doctor.result import CheckResult, Status

# The flags that matter here, and their names as people know them.
VECTOR_FLAGS = (("avx", "AVX"), ("avx2", "AVX2"), ("avx512f", "AVX-512"))

BIOS_HINT = (
    "if this CPU has AVX2 (an Intel N100 does), it is turned off: enable it in the BIOS "
    "(some NAS boards ship with it off), or give the VM the host's CPU type (host-passthrough)"
)

# Under this, the API can fail to download a champion (an ONNX transformer bundle is about
# 90 MB, and is unpacked beside its download) or to grow SQLite's write-ahead log.
DISK_FAIL_BYTES = 200 * 1024**2
# Under this, a busy API's 30 days of predictions (BADBUZZ_RETENTION_DAYS), the reports and a
# few cached model versions may soon not fit.
DISK_WARN_BYTES = 2 * 1024**3


def check_cpu(info: CpuInfo, machine: str) -> CheckResult:
    """What the CPU offers for the runtimes: LiteRT serves on any x86-64 CPU (faster with
    AVX2); TensorFlow's wheels need AVX and are built for AVX2."""
    name = info.model or machine or "unknown CPU"
    if not is_x86(machine):
        return CheckResult("cpu", "ok", f"{name} ({machine}): no x86 vector flags to need")
    if not info.flags:
        return CheckResult(
            "cpu",
            "warn",
            f"{name}: its flags are unknown (no /proc/cpuinfo)",
            "runtimes below say what loads; TensorFlow needs AVX",
        )
    listed = ", ".join(
        f"{label} {'yes' if flag in info.flags else 'no'}" for flag, label in VECTOR_FLAGS
    )
    detail = f"{name}: {listed}"
    if "avx2" in info.flags:
        return CheckResult("cpu", "ok", detail)
    if "avx" in info.flags:
        return CheckResult(
            "cpu",
            "warn",
            detail,
            "no AVX2: LiteRT serves without it, slower; TensorFlow's wheels are built for it "
            f"and may crash; {BIOS_HINT}",
        )
    return CheckResult(
        "cpu",
        "warn",
        detail,
        f"no AVX: TensorFlow cannot load (its wheels need AVX); LiteRT serves, slower; {BIOS_HINT}",
    )


def disk_status(free_bytes: int) -> Status:
    if free_bytes < DISK_FAIL_BYTES:
        return "fail"
    if free_bytes < DISK_WARN_BYTES:
        return "warn"
    return "ok"


def check_disk(home: Path) -> CheckResult:
    """Free space on the file system of BADBUZZ_HOME (of its nearest existing folder, when it
    does not exist yet)."""
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    status = disk_status(free)
    detail = f"{human_bytes(free)} free for BADBUZZ_HOME {home}"
    if status == "ok":
        return CheckResult("disk", status, detail)
    floor = DISK_FAIL_BYTES if status == "fail" else DISK_WARN_BYTES
    return CheckResult(
        "disk",
        status,
        f"{detail} (under {human_bytes(floor)})",
        "free space there, lower BADBUZZ_RETENTION_DAYS, or move BADBUZZ_HOME to a larger disk",
    )


def human_bytes(count: int) -> str:
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GB"
    return f"{count / 1024**2:.0f} MB"
