"""Settings: one base with the shared fields, paths made absolute once; the ops settings in
groups, each variable reaching its field under the name it always had."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from badbuzz.bundle.signing import create_key_pair
from badbuzz.registry import configure_tracking
from badbuzz.settings import (
    ApiSettings,
    BadbuzzSettings,
    OpsSettings,
    TrainingSettings,
    UiSettings,
    setting_name,
    variables,
)

README = Path(__file__).resolve().parents[2] / "README.md"
PARTS: list[type[BadbuzzSettings]] = [TrainingSettings, ApiSettings, UiSettings, OpsSettings]


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("BADBUZZ_HOME", "BADBUZZ_SENTIMENT140", "BADBUZZ_MODEL_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.mark.parametrize("kind", [BadbuzzSettings, TrainingSettings, ApiSettings])
def test_a_relative_home_is_taken_from_the_working_directory(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, kind: type[BadbuzzSettings]
) -> None:
    monkeypatch.setenv("BADBUZZ_HOME", ".badbuzz-demo")
    settings = kind()
    assert settings.home == cwd / ".badbuzz-demo"
    assert settings.model_cache_dir == cwd / ".badbuzz-demo" / "model-cache"
    assert settings.runtime_options().cache_dir == settings.model_cache_dir


def test_the_embedded_store_of_a_relative_home_has_a_file_uri(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` died here: a relative BADBUZZ_HOME gave Path.as_uri() a relative path."""
    monkeypatch.setenv("BADBUZZ_HOME", ".badbuzz-demo")
    target = configure_tracking(TrainingSettings())
    assert target.tracking_uri == f"sqlite:///{cwd}/.badbuzz-demo/mlflow/mlflow.db"
    assert target.artifact_root == (cwd / ".badbuzz-demo/mlflow/artifacts").as_uri()


def test_home_expands_the_user_folder(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADBUZZ_HOME", "~/somewhere")
    assert BadbuzzSettings().home == Path.home() / "somewhere"


def test_data_and_bundle_paths_are_absolute(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADBUZZ_SENTIMENT140", "data/s140")
    monkeypatch.setenv("BADBUZZ_MODEL_BUNDLE", "bundle.tar.gz")
    assert TrainingSettings().sentiment140 == cwd / "data" / "s140"
    assert ApiSettings().model_bundle == cwd / "bundle.tar.gz"


def test_the_parts_share_the_base_fields(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADBUZZ_MODEL_NAME", "airline")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    for settings in (TrainingSettings(), ApiSettings()):
        assert settings.model_name == "airline"
        assert settings.mlflow_tracking_uri == "http://mlflow:5000"


def test_production_refuses_a_weak_api_key(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BADBUZZ_ENVIRONMENT", "production")
    monkeypatch.setenv("BADBUZZ_API_KEY", "change-me")
    with pytest.raises(ValueError, match="16\\+ characters"):
        ApiSettings()


@pytest.fixture
def console_env(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ENVIRONMENT", "CONSOLE_PASSWORD", "CONSOLE_LOGIN"):
        monkeypatch.delenv(f"BADBUZZ_{name}", raising=False)
    return monkeypatch


def test_the_console_needs_no_login_in_development(console_env: pytest.MonkeyPatch) -> None:
    assert UiSettings().console_password is None
    console_env.setenv("BADBUZZ_CONSOLE_PASSWORD", "")  # compose's unset variable
    assert UiSettings().console_password is None


def test_the_console_refuses_production_without_a_login(console_env: pytest.MonkeyPatch) -> None:
    console_env.setenv("BADBUZZ_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="the console has no login: set BADBUZZ_CONSOLE_PASSWORD"):
        UiSettings()
    console_env.setenv("BADBUZZ_CONSOLE_PASSWORD", "change-me")
    with pytest.raises(ValueError, match="12\\+ characters"):
        UiSettings()
    console_env.setenv("BADBUZZ_CONSOLE_PASSWORD", "correct-horse-battery")
    assert UiSettings().console_password is not None


def test_a_proxy_login_lets_the_console_run_in_production(
    console_env: pytest.MonkeyPatch,
) -> None:
    console_env.setenv("BADBUZZ_ENVIRONMENT", "production")
    console_env.setenv("BADBUZZ_CONSOLE_LOGIN", "proxy")
    assert UiSettings().console_password is None
    console_env.setenv("BADBUZZ_CONSOLE_PASSWORD", "short")  # a second login, still a real one
    with pytest.raises(ValueError, match="12\\+ characters"):
        UiSettings()


def test_the_readme_documents_every_setting() -> None:
    """The configuration reference cannot fall behind the code: every field of every settings
    class (a group's fields included) appears in the README under its environment variable."""
    import inspect

    from pydantic_settings import BaseSettings

    import badbuzz.settings as module

    readme = README.read_text()
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__
    ]
    names: dict[tuple[str, str], list[str]] = {}
    for kind in classes:
        for variable, path in variables(kind).items():
            names.setdefault((kind.__name__, ".".join(path)), []).append(variable)
    undocumented = [
        field
        for field, variables_of_field in names.items()
        # a field read under other names (MLFLOW_TRACKING_URI) is documented under one of them
        if not any(f"`{variable}`" in readme for variable in variables_of_field)
    ]
    assert sorted(undocumented) == []


def documented() -> list[str]:
    """The variables in the first column of the README's settings tables."""
    found: list[str] = []
    for line in README.read_text().splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            found += re.findall(r"`((?:BADBUZZ|MLFLOW)_[A-Z0-9_]+)`", first)
    return list(dict.fromkeys(found))


# A value of each documented variable, none its default; KEYS: filled in with files of keys.
SAMPLES = {
    "BADBUZZ_HOME": "elsewhere",
    "BADBUZZ_SENTIMENT140": "s140",
    "BADBUZZ_MODEL_NAME": "airline",
    "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "BADBUZZ_SIGNING_KEY": "KEYS/signing-key.pem",
    "BADBUZZ_MODEL_ALIAS": "champion",
    "BADBUZZ_SELECT_METRIC": "manual_accuracy",
    "BADBUZZ_MIN_POSITIVE_RECALL": "0.7",
    "BADBUZZ_EMBEDDING_TYPE": "tfidf",
    "BADBUZZ_TORCH_THREADS": "3",
    "BADBUZZ_MODEL_BUNDLE": "bundle.tar.gz",
    "BADBUZZ_API_KEY": "an-admin-key-of-some-length",
    "BADBUZZ_INGEST_KEY": "an-ingest-key-of-some-length",
    "BADBUZZ_ENVIRONMENT": "production",
    "BADBUZZ_VERIFY_KEY": "KEYS/verify-key.pem",
    "BADBUZZ_DATABASE_URL": "postgresql+psycopg://db/badbuzz",
    "BADBUZZ_CORS_ORIGINS": '["https://console.example"]',
    "BADBUZZ_MAX_BODY_BYTES": "2048",
    "BADBUZZ_RELOAD_INTERVAL_S": "0",
    "BADBUZZ_LOG_PREDICTIONS": "false",
    "BADBUZZ_DYNAMIC_BATCH_MAX": "1",
    "BADBUZZ_MAX_CONCURRENT_PREDICTIONS": "8",
    "BADBUZZ_MAX_UNWRITTEN_PREDICTIONS": "5000",
    "BADBUZZ_ONNX_THREADS": "2",
    "BADBUZZ_SMTP_HOST": "mail.example",
    "BADBUZZ_SMTP_PORT": "2525",
    "BADBUZZ_SMTP_SECURITY": "ssl",
    "BADBUZZ_SMTP_USER": "alerts",
    "BADBUZZ_SMTP_PASSWORD": "s3cret",
    "BADBUZZ_SMTP_FROM": "ops@airline.example",
    "BADBUZZ_SMTP_TIMEOUT_S": "3",
    "BADBUZZ_ALERT_TO": "oncall@airline.example, ops@airline.example",
    "BADBUZZ_ALERT_THRESHOLD": "5",
    "BADBUZZ_ALERT_WINDOW_SECONDS": "60",
    "BADBUZZ_ALERT_COOLDOWN_SECONDS": "0",
    "BADBUZZ_ALERT_CHECK_INTERVAL_S": "2",
    "BADBUZZ_LATENCY_P95_MS": "100",
    "BADBUZZ_LATENCY_WINDOW_SECONDS": "60",
    "BADBUZZ_LATENCY_MIN_REQUESTS": "5",
    "BADBUZZ_ALERT_MAILS_PER_HOUR": "3",
    "BADBUZZ_OUTBOX_MAX_BACKOFF_S": "60",
    "BADBUZZ_DIGEST_HOUR_UTC": "23",
    "BADBUZZ_RETENTION_DAYS": "7",
    "BADBUZZ_BRANDS": "@united=United",
    "BADBUZZ_BUZZ_WINDOW_SECONDS": "1800",
    "BADBUZZ_BUZZ_BASELINE_WINDOWS": "500",
    "BADBUZZ_BUZZ_MIN_HISTORY_DAYS": "2",
    "BADBUZZ_BUZZ_MIN_DAILY_TWEETS": "12",
    "BADBUZZ_BUZZ_MIN_NEGATIVES": "5",
    "BADBUZZ_BUZZ_Z": "3.75",
    "BADBUZZ_BUZZ_MIN_RATIO": "2",
    "BADBUZZ_BUZZ_LONG_WINDOWS": "8",
    "BADBUZZ_BUZZ_MIN_SHARE_RISE": "0.2",
    "BADBUZZ_BUZZ_COOLDOWN_SECONDS": "3600",
    "BADBUZZ_BUZZ_GRACE_SECONDS": "60",
    "BADBUZZ_BUZZ_CHECK_INTERVAL_S": "5",
    "BADBUZZ_DRIFT_WINDOW_SECONDS": "1800",
    "BADBUZZ_DRIFT_MIN_PREDICTIONS": "100",
    "BADBUZZ_DRIFT_PSI": "0.2",
    "BADBUZZ_DRIFT_Z": "3",
    "BADBUZZ_DRIFT_EPSILON": "0.001",
    "BADBUZZ_DRIFT_COOLDOWN_SECONDS": "3600",
    "BADBUZZ_DRIFT_CHECK_INTERVAL_S": "30",
    "BADBUZZ_RETRAIN_CRON": "0 3 * * *",
    "BADBUZZ_RETRAIN_MIN_NEW_VERDICTS": "100",
    "BADBUZZ_RETRAIN_TIMEOUT_S": "600",
}
# what production needs besides, so that BADBUZZ_ENVIRONMENT alone can be set
PRODUCTION = {
    "BADBUZZ_API_KEY": "an-admin-key-of-some-length",
    "BADBUZZ_VERIFY_KEY": "KEYS/verify-key.pem",
    "BADBUZZ_CONSOLE_PASSWORD": "a-console-password",
}


def field_values(settings: BadbuzzSettings) -> dict[tuple[str, ...], Any]:
    values = {}
    for path in set(variables(type(settings)).values()):
        value: Any = settings
        for part in path:
            value = getattr(value, part)
        values[path] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return values


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No BADBUZZ_* or MLflow variable, no .env; a key pair in KEYS."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("BADBUZZ_", "MLFLOW_"))]:
        monkeypatch.delenv(name)
    create_key_pair(tmp_path / "KEYS")
    return tmp_path


def test_the_samples_are_the_documented_variables() -> None:
    assert sorted(SAMPLES) == sorted(documented())


@pytest.mark.parametrize("name", documented())
def test_each_documented_variable_reaches_its_field_and_only_it(
    bare: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    kinds = [kind for kind in PARTS if name in variables(kind)]
    assert kinds, f"{name} is read by no settings"
    extra = PRODUCTION if name == "BADBUZZ_ENVIRONMENT" else {}
    for variable, value in extra.items():
        monkeypatch.setenv(variable, value)
    for kind in kinds:
        before = field_values(kind())
        monkeypatch.setenv(name, SAMPLES[name])
        after = field_values(kind())
        monkeypatch.delenv(name)
        changed = {path for path in before if before[path] != after[path]}
        assert changed == {variables(kind)[name]}, kind.__name__


# Every variable of the ops settings and its default, as they were while they were all flat
# fields of OpsSettings (smtp_host ...): the groups changed neither.
FLAT_DEFAULTS = {
    "BADBUZZ_DATABASE_URL": None,
    "BADBUZZ_SMTP_HOST": None,
    "BADBUZZ_SMTP_PORT": None,
    "BADBUZZ_SMTP_SECURITY": "starttls",
    "BADBUZZ_SMTP_USER": None,
    "BADBUZZ_SMTP_PASSWORD": None,
    "BADBUZZ_SMTP_FROM": "badbuzz@localhost",
    "BADBUZZ_SMTP_TIMEOUT_S": 10.0,
    "BADBUZZ_ALERT_TO": [],
    "BADBUZZ_ALERT_THRESHOLD": 3,
    "BADBUZZ_ALERT_WINDOW_SECONDS": 300.0,
    "BADBUZZ_ALERT_COOLDOWN_SECONDS": 900.0,
    "BADBUZZ_ALERT_CHECK_INTERVAL_S": 1.0,
    "BADBUZZ_LATENCY_P95_MS": 250.0,
    "BADBUZZ_LATENCY_WINDOW_SECONDS": 300.0,
    "BADBUZZ_LATENCY_MIN_REQUESTS": 50,
    "BADBUZZ_ALERT_MAILS_PER_HOUR": 10,
    "BADBUZZ_OUTBOX_MAX_BACKOFF_S": 300.0,
    "BADBUZZ_DIGEST_HOUR_UTC": 7,
    "BADBUZZ_RETENTION_DAYS": 30.0,
    "BADBUZZ_RETRAIN_CRON": None,
    "BADBUZZ_RETRAIN_MIN_NEW_VERDICTS": 200,
    "BADBUZZ_RETRAIN_TIMEOUT_S": 3600.0,
    "BADBUZZ_BRANDS": {},
    "BADBUZZ_BUZZ_WINDOW_SECONDS": 3600,
    "BADBUZZ_BUZZ_BASELINE_WINDOWS": 168,
    "BADBUZZ_BUZZ_MIN_HISTORY_DAYS": 3,
    "BADBUZZ_BUZZ_MIN_DAILY_TWEETS": 24,
    "BADBUZZ_BUZZ_MIN_NEGATIVES": 10,
    "BADBUZZ_BUZZ_Z": 3.5,
    "BADBUZZ_BUZZ_MIN_RATIO": 1.5,
    "BADBUZZ_BUZZ_LONG_WINDOWS": 6,
    "BADBUZZ_BUZZ_MIN_SHARE_RISE": 0.1,
    "BADBUZZ_BUZZ_COOLDOWN_SECONDS": 10800.0,
    "BADBUZZ_BUZZ_GRACE_SECONDS": 120.0,
    "BADBUZZ_BUZZ_CHECK_INTERVAL_S": 10.0,
    "BADBUZZ_DRIFT_WINDOW_SECONDS": 3600.0,
    "BADBUZZ_DRIFT_MIN_PREDICTIONS": 200,
    "BADBUZZ_DRIFT_PSI": 0.25,
    "BADBUZZ_DRIFT_Z": 4.0,
    "BADBUZZ_DRIFT_EPSILON": 0.0001,
    "BADBUZZ_DRIFT_COOLDOWN_SECONDS": 86400.0,
    "BADBUZZ_DRIFT_CHECK_INTERVAL_S": 60.0,
}


def test_the_ops_groups_keep_every_variable_and_default(bare: Path) -> None:
    settings = OpsSettings()
    base = set(variables(BadbuzzSettings))
    found = {
        name: field_values(settings)[path]
        for name, path in variables(OpsSettings).items()
        if name not in base
    }
    assert found == FLAT_DEFAULTS


def test_the_groups_read_the_dot_env_file_too(bare: Path) -> None:
    (bare / ".env").write_text(
        "BADBUZZ_SMTP_HOST=mail.example\nBADBUZZ_SMTP_TIMEOUT_S=3\n"
        "BADBUZZ_ALERT_TO=a@airline.example,b@airline.example\nBADBUZZ_BUZZ_Z=4\n"
    )
    settings = ApiSettings()
    assert settings.smtp.host == "mail.example" and settings.smtp.timeout_s == 3
    assert settings.alert.to == ["a@airline.example", "b@airline.example"]
    assert settings.buzz.z == 4
    assert OpsSettings(_env_file=None).smtp.host is None  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BADBUZZ_SMTP_PORT", "mail", "smtp_port"),
        ("BADBUZZ_BUZZ_MIN_RATIO", "0.5", "buzz_min_ratio"),
        ("BADBUZZ_BUZZ_WINDOW_SECONDS", "7000", ""),  # the group's own check names it
    ],
)
def test_an_error_names_the_variable_as_before(
    bare: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        OpsSettings()
    [problem] = raised.value.errors()
    assert setting_name(problem["loc"]) == named
    if not named:
        assert variable in problem["msg"]
