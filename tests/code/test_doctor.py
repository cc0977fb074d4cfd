"""`badbuzz doctor`'s decisions, on real inputs: cpuinfo texts, disk sizes, child processes
that crash, hang or fail, real bundles and databases."""

from __future__ import annotations

import shutil
import sqlite3
import tarfile
import time
from pathlib import Path

import pytest

from badbuzz.cpu import CpuInfo, parse_cpuinfo
from badbuzz.doctor.bundle import check_bundle
from badbuzz.doctor.database import check_database
from badbuzz.doctor.machine import (
    DISK_FAIL_BYTES,
    DISK_WARN_BYTES,
    check_cpu,
    check_disk,
    disk_status,
)
from badbuzz.doctor.registry import RegistryReport
from badbuzz.doctor.result import Background, CheckResult
from badbuzz.doctor.runtimes import Runtime, check_runtime, check_serving_runtimes
from tests.processes import free_port

N100_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi "
    "mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc sse3 pclmulqdq "
    "ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm abm "
    "3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt sha_ni"
)


def cpuinfo(flags: str, model: str = "Intel(R) N100") -> str:
    """Two processors, as /proc/cpuinfo lists them."""
    block = (
        "processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
        f"model name\t: {model}\nflags\t\t: {flags}\n\n"
    )
    return block.format(n=0) + block.format(n=1)


def test_cpuinfo_gives_the_model_and_flags_of_the_first_processor() -> None:
    info = parse_cpuinfo(cpuinfo(N100_FLAGS))
    assert info.model == "Intel(R) N100"
    assert {"avx", "avx2", "sse4_2"} <= info.flags
    assert "avx512f" not in info.flags
    arm = parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32\n")
    assert arm == CpuInfo("", frozenset({"fp", "asimd", "evtstrm", "aes", "crc32"}))


def test_a_cpu_with_avx2_is_fine() -> None:
    result = check_cpu(parse_cpuinfo(cpuinfo(N100_FLAGS)), "x86_64")
    assert result.status == "ok"
    assert result.detail == "Intel(R) N100: AVX yes, AVX2 yes, AVX-512 no"


def test_avx2_turned_off_in_the_bios_is_a_warning_that_says_where_to_turn_it_on() -> None:
    result = check_cpu(parse_cpuinfo(cpuinfo(N100_FLAGS.replace(" avx2", ""))), "x86_64")
    assert result.status == "warn"
    assert "AVX2 no" in result.detail
    assert "LiteRT serves without it" in result.action
    assert "BIOS" in result.action


def test_no_avx_at_all_says_tensorflow_cannot_load() -> None:
    flags = N100_FLAGS.replace(" avx2", "").replace(" avx ", " ")
    result = check_cpu(parse_cpuinfo(cpuinfo(flags)), "x86_64")
    assert result.status == "warn"
    assert "AVX no" in result.detail
    assert "TensorFlow cannot load" in result.action
    assert "BIOS" in result.action


def test_other_machines_have_no_vector_flags_to_need() -> None:
    result = check_cpu(parse_cpuinfo("Features\t: fp asimd\n"), "aarch64")
    assert result.status == "ok"


@pytest.mark.parametrize(
    ("free", "status"),
    [
        (0, "fail"),
        (DISK_FAIL_BYTES - 1, "fail"),
        (DISK_FAIL_BYTES, "warn"),
        (DISK_WARN_BYTES - 1, "warn"),
        (DISK_WARN_BYTES, "ok"),
    ],
)
def test_disk_thresholds(free: int, status: str) -> None:
    assert DISK_FAIL_BYTES == 200 * 1024**2 and DISK_WARN_BYTES == 2 * 1024**3
    assert disk_status(free) == status


def test_disk_of_a_home_not_created_yet_is_its_parents(tmp_path: Path) -> None:
    result = check_disk(tmp_path / "not" / "yet")
    assert result.check == "disk"
    assert f"for BADBUZZ_HOME {tmp_path / 'not' / 'yet'}" in result.detail
    assert result.status == disk_status(shutil.disk_usage(tmp_path).free)


# --- runtimes, each imported in a child process ---------------------------------------

NO_AVX2 = CpuInfo("Intel(R) N100", frozenset({"sse4_2", "avx"}))
# a module every Python has: the probe, not the module, decides what happens
STDLIB = Runtime("probe", "json", "not-a-distribution", "install it")


def test_a_runtime_killed_by_an_illegal_instruction_is_reported_as_such() -> None:
    sigill = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    result = check_runtime(STDLIB, NO_AVX2, timeout_s=30, probe=sigill)
    assert result.status == "warn"
    assert result.detail == "crashes on this CPU (illegal instruction): this CPU lacks AVX2"
    assert "BIOS" in result.action


def test_a_runtime_killed_otherwise_names_the_signal() -> None:
    segv = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    result = check_runtime(STDLIB, NO_AVX2, timeout_s=30, probe=segv)
    assert (result.status, result.detail) == ("warn", "killed by SIGSEGV while loading")


def test_a_runtime_that_hangs_is_given_up_on_at_its_timeout() -> None:
    started = time.monotonic()
    result = check_runtime(STDLIB, NO_AVX2, timeout_s=1, probe="import time; time.sleep(60)")
    assert time.monotonic() - started < 10
    assert (result.status, result.detail) == ("warn", "did not load within 1 s")


def test_a_runtime_that_fails_to_import_quotes_its_error() -> None:
    probe = "raise ImportError('libfoo.so: cannot open shared object file')"
    result = check_runtime(STDLIB, NO_AVX2, timeout_s=30, probe=probe)
    assert result.status == "warn"
    assert (
        result.detail == "fails to import: ImportError: libfoo.so: cannot open shared object file"
    )


def test_a_runtime_that_loads_gives_its_version() -> None:
    pytest_runtime = Runtime("pytest", "pytest", "pytest", "")
    result = check_runtime(pytest_runtime, NO_AVX2, timeout_s=60)
    assert (result.status, result.detail) == ("ok", f"loads ({pytest.__version__})")


def test_a_runtime_not_installed_is_skipped_with_the_extra_to_install() -> None:
    missing = Runtime("LiteRT", "no_such_module_here.interpreter", "x", "install badbuzz[x]")
    result = check_runtime(missing, NO_AVX2, timeout_s=1)
    assert result == CheckResult("LiteRT", "skipped", "not installed", "install badbuzz[x]")


def test_no_runtime_that_loads_means_nothing_can_serve() -> None:
    lines = [
        CheckResult("LiteRT", "warn", "crashes on this CPU (illegal instruction): ..."),
        CheckResult("scikit-learn", "skipped", "not installed"),
    ]
    assert check_serving_runtimes(lines).status == "fail"
    lines.append(CheckResult("onnxruntime", "ok", "loads (1.0)"))
    assert check_serving_runtimes(lines) == CheckResult("runtimes", "ok", "serves onnx bundles")


def test_a_champion_whose_runtime_does_not_load_here_fails() -> None:
    report = RegistryReport(
        [
            CheckResult("mlflow", "ok", "answers"),
            CheckResult("champion", "ok", "version 3"),
            CheckResult("artifacts", "ok", "version 3's onnx bundle is there"),
        ],
        bundle_runtime="onnx",
    )
    only_litert = [CheckResult("LiteRT", "ok", "loads"), CheckResult("onnxruntime", "skipped", "")]
    *_, artifacts = report.against(only_litert)
    assert artifacts.status == "fail"
    assert "needs onnxruntime, which does not load here" in artifacts.detail
    with_onnx = [CheckResult("onnxruntime", "ok", "loads")]
    assert report.against(with_onnx) == report.results


def test_a_check_past_its_deadline_gives_up_without_waiting() -> None:
    started = time.monotonic()
    assert Background(lambda: time.sleep(30), 0.2).result() is None
    assert time.monotonic() - started < 5
    assert Background(lambda: 42, 5).result() == 42


# --- the local bundle, loaded in a child process ----------------------------------------


def test_a_local_bundle_loads_and_scores_a_tweet(tiny_bundle: Path, tmp_path: Path) -> None:
    result = check_bundle(tiny_bundle, tmp_path / "cache", NO_AVX2, timeout_s=120)
    assert result.status == "ok", result
    assert "(logreg, sklearn) scores 'I love this airline': P(positive) 0." in result.detail
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in tiny_bundle.iterdir():
            tar.add(path, arcname=path.name)
    assert check_bundle(archive, tmp_path / "cache", NO_AVX2, timeout_s=120).status == "ok"


def test_a_damaged_or_missing_bundle_cannot_serve(tiny_bundle: Path, tmp_path: Path) -> None:
    damaged = shutil.copytree(tiny_bundle, tmp_path / "damaged")
    (damaged / "model.joblib").write_bytes(b"not the model that was hashed")
    result = check_bundle(damaged, tmp_path / "cache", NO_AVX2, timeout_s=120)
    assert result.status == "fail"
    assert "model.joblib" in result.detail
    missing = check_bundle(tmp_path / "nowhere", tmp_path / "cache", NO_AVX2, timeout_s=5)
    assert (missing.status, missing.detail) == (
        "fail",
        f"{tmp_path / 'nowhere'}: no such file or folder",
    )
    unset = check_bundle(None, tmp_path / "cache", NO_AVX2, timeout_s=5)
    assert unset.status == "skipped"


# --- the database ------------------------------------------------------------------------


def test_sqlite_answers_or_will_be_created(tmp_path: Path) -> None:
    file = tmp_path / "badbuzz.db"
    to_create = check_database(f"sqlite:///{file}", timeout_s=5)
    assert (to_create.status, to_create.detail) == (
        "ok",
        f"sqlite:///{file}: not created yet; the API creates it",
    )
    assert not file.exists()  # the doctor creates nothing
    sqlite3.connect(file).close()
    answered = check_database(f"sqlite:///{file}", timeout_s=5)
    assert answered.status == "ok"
    assert answered.detail.startswith(f"sqlite:///{file}: SELECT 1 in ")


def test_a_database_server_that_refuses_fails_and_hides_the_password() -> None:
    url = f"postgresql+psycopg://badbuzz:s3cret@127.0.0.1:{free_port()}/badbuzz"
    result = check_database(url, timeout_s=5)
    assert result.status == "fail"
    assert "unreachable" in result.detail
    assert "s3cret" not in result.detail and "***" in result.detail
    assert "BADBUZZ_DATABASE_URL" in result.action


def test_a_database_url_that_is_not_one_fails() -> None:
    result = check_database("not a url", timeout_s=5)
    assert (result.status, result.detail) == ("fail", "BADBUZZ_DATABASE_URL is not a database URL")


def test_a_client_error_is_told_by_the_network_error_at_its_root() -> None:
    from badbuzz.doctor.registry import first_line

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as error:
            raise RuntimeError("API request to http://nas:5000/api/... failed with ...") from error
    except RuntimeError as wrapped:
        assert first_line(wrapped) == "ConnectionRefusedError: Connection refused"
    assert first_line(ValueError("401 Unauthorized\nmore")) == "401 Unauthorized"
