"""The `badbuzz` command as tests and benchmarks run it: the console script installed beside
this interpreter (`BADBUZZ`, the one definition of its path), run to completion in a child
process by `run_badbuzz`. Not a conftest: benchmarks import it too."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.processes import clean_env

VENV_BIN = Path(sys.executable).parent
BADBUZZ = VENV_BIN / "badbuzz"
# A bare environment: only the system's programs on PATH, nothing of the shell's.
BARE_ENV = {"PATH": "/usr/bin:/bin"}


def run_badbuzz(
    *args: str,
    home: Path | None,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float | None = 120,
    start_new_session: bool = False,
    executable: Path = BADBUZZ,
) -> subprocess.CompletedProcess[str]:
    """`badbuzz *args`, its output captured as text. Never raises for the exit status
    (check=False): the caller asserts on `returncode`, `stdout` and `stderr`.

    The child's environment is `base_env` (default: the shell's minus any AWS/MLflow/badbuzz
    settings, `clean_env()`), plus BADBUZZ_HOME=`home` unless `home` is None, plus `env`.
    `executable` is another install's `badbuzz` (a test venv's)."""
    settings = {"BADBUZZ_HOME": str(home)} if home is not None else {}
    settings.update(env or {})
    child_env = {**base_env, **settings} if base_env is not None else clean_env(settings)
    return subprocess.run(
        [str(executable), *args],
        env=child_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=start_new_session,
    )
