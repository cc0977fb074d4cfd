"""Settings: one base with the shared fields, paths made absolute once."""

from __future__ import annotations

from pathlib import Path

import pytest

from badbuzz.registry import configure_tracking
from badbuzz.settings import (
    ApiSettings,
    BadbuzzSettings,
    OpsSettings,
    TrainingSettings,
    UiSettings,
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
