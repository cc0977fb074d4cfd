"""Which runtimes load here: each imported in a child process with a deadline, so one that
dies of an illegal instruction (a wheel built for AVX2 on a CPU without it) or hangs cannot
take the doctor with it."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from badbuzz.cpu import CpuInfo
from badbuzz.doctor.machine import BIOS_HINT, VECTOR_FLAGS
from badbuzz.doctor.result import CheckResult

# The child imports the module, then prints the distribution's version.
IMPORT_PROBE = """
import importlib, importlib.metadata, sys
module = importlib.import_module(sys.argv[1])
try:
    print(importlib.metadata.version(sys.argv[2]))
except importlib.metadata.PackageNotFoundError:
    print(getattr(module, "__version__", "?"))
"""
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3"}  # TensorFlow's start-up chatter on stderr


@dataclass(frozen=True)
class Runtime:
    name: str  # as people know it
    module: str  # what serving imports
    distribution: str  # the pip name, for the version
    if_missing: str  # what to do when it is not installed


RUNTIMES = (
    Runtime(
        "LiteRT",
        "ai_edge_litert.interpreter",
        "ai-edge-litert",
        "TFLite bundles need it: install badbuzz[api-tflite]",
    ),
    Runtime(
        "tflite_runtime",
        "tflite_runtime.interpreter",
        "tflite-runtime",
        "optional: LiteRT does its work",
    ),
    Runtime(
        "TensorFlow",
        "tensorflow",
        "tensorflow",
        "serving needs none (but Keras bundles); training networks: badbuzz[deep]",
    ),
    Runtime(
        "onnxruntime", "onnxruntime", "onnxruntime", "ONNX bundles need it: install badbuzz[api]"
    ),
    Runtime(
        "scikit-learn", "sklearn", "scikit-learn", "scikit-learn bundles need it: badbuzz[api]"
    ),
)

# A manifest's runtime -> the runtimes that can score it (any one will do). A Keras bundle
# is converted to TFLite by TensorFlow where it is loaded (`badbuzz.bundle.runtimes.keras`).
SERVED_BY: Mapping[str, tuple[str, ...]] = {
    "tflite": ("LiteRT", "tflite_runtime", "TensorFlow"),
    "keras": ("TensorFlow",),
    "onnx": ("onnxruntime",),
    "sklearn": ("scikit-learn",),
}


@dataclass(frozen=True)
class ChildOutcome:
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str

    @property
    def last_error_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {self.returncode}"


def run_child(args: Sequence[str], timeout_s: float) -> ChildOutcome:
    """This Python (`sys.executable`) with `args`, killed after `timeout_s`."""
    try:
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, **QUIET},
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return ChildOutcome(None, str(expired.stdout or ""), str(expired.stderr or ""))
    return ChildOutcome(done.returncode, done.stdout, done.stderr)


def missing_vector_flags(cpu: CpuInfo) -> str:
    missing = [label for flag, label in VECTOR_FLAGS[:2] if flag not in cpu.flags]
    return f"this CPU lacks {' and '.join(missing)}" if missing else "the CPU lacks what it needs"


def crash(returncode: int | None, cpu: CpuInfo) -> tuple[str, str] | None:
    """(what happened, what to do) when the child died of a signal; None otherwise."""
    if returncode is None or returncode >= 0:
        return None
    if -returncode == signal.SIGILL:
        return (
            f"crashes on this CPU (illegal instruction): {missing_vector_flags(cpu)}",
            f"{BIOS_HINT}; meanwhile, serve a bundle whose runtime loads here",
        )
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name} while loading", "reinstall it (pip install --force-reinstall)"


def check_runtime(
    runtime: Runtime, cpu: CpuInfo, timeout_s: float, probe: str = IMPORT_PROBE
) -> CheckResult:
    """Import `runtime` in a child process: loads (its version), not installed, crashes (an
    illegal instruction says so), fails (its error), or hangs past `timeout_s`."""
    if importlib.util.find_spec(runtime.module.split(".")[0]) is None:
        return CheckResult(runtime.name, "skipped", "not installed", runtime.if_missing)
    outcome = run_child(["-c", probe, runtime.module, runtime.distribution], timeout_s)
    if outcome.returncode is None:
        return CheckResult(
            runtime.name,
            "warn",
            f"did not load within {timeout_s:g} s",
            "a slow disk or busy CPU? try again with a longer --import-timeout",
        )
    died = crash(outcome.returncode, cpu)
    if died is not None:
        return CheckResult(runtime.name, "warn", *died)
    if outcome.returncode != 0:
        return CheckResult(
            runtime.name,
            "warn",
            f"fails to import: {outcome.last_error_line}",
            f"reinstall it: pip install --force-reinstall {runtime.distribution}",
        )
    version = outcome.stdout.strip().splitlines()[-1] if outcome.stdout.strip() else "?"
    return CheckResult(runtime.name, "ok", f"loads ({version})")


def loaded(results: Sequence[CheckResult]) -> set[str]:
    return {result.check for result in results if result.status == "ok"}


def check_serving_runtimes(results: Sequence[CheckResult]) -> CheckResult:
    """Which bundle kinds this install can score: none is a failure."""
    kinds = [kind for kind, names in SERVED_BY.items() if loaded(results) & set(names)]
    if not kinds:
        return CheckResult(
            "runtimes",
            "fail",
            "no runtime loads: nothing here can score a bundle",
            "install badbuzz[api-tflite] (LiteRT, which serves without AVX2) or badbuzz[api]",
        )
    return CheckResult("runtimes", "ok", f"serves {', '.join(kinds)} bundles")


def runtime_gap(manifest_runtime: str, results: Sequence[CheckResult]) -> str | None:
    """Why a bundle of `manifest_runtime` cannot be scored here; None when it can."""
    names = SERVED_BY.get(manifest_runtime)
    if names is None:
        return f"its runtime {manifest_runtime!r} is unknown to this badbuzz: upgrade it"
    if loaded(results) & set(names):
        return None
    return f"its {manifest_runtime} runtime needs {' or '.join(names)}, which does not load here"
