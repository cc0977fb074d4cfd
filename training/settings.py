"""Training-side settings, read once from the environment (prefix BADBUZZ_) and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BADBUZZ_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("~/.badbuzz"),
        description="Data dir: embedded MLflow store, download cache, reports.",
    )
    sentiment140: Path | None = Field(
        default=None,
        description="Local Sentiment140 file or folder; skips the download.",
    )
    model_name: str = Field(default="tweet-sentiment", description="Registered model name.")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "BADBUZZ_MLFLOW_TRACKING_URI"),
        description="MLflow server; unset means the embedded SQLite store under `home`.",
    )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def cache_dir(self) -> Path:
        return self.home_dir / "data"

    @property
    def reports_dir(self) -> Path:
        return self.home_dir / "reports"

    @property
    def mlflow_dir(self) -> Path:
        return self.home_dir / "mlflow"
