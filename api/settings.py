"""API settings, read once from the environment (prefix BADBUZZ_) and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_KEY = "change-me"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BADBUZZ_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    home: Path = Field(default=Path("~/.badbuzz"), description="Cache and default database.")
    model_name: str = "tweet-sentiment"
    model_alias: str | None = Field(
        default=None, description="Serve this alias (e.g. champion); unset: best by metric."
    )
    select_metric: str = Field(default="precision", description="Version tag ranked when no alias.")
    min_recall: float = Field(default=0.5, description="Recall floor for selection by metric.")
    embedding_type: str | None = Field(default=None, description="Only versions with this tag.")
    model_bundle: Path | None = Field(
        default=None, description="A local bundle dir or .tar.gz: no registry at all."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "BADBUZZ_MLFLOW_TRACKING_URI"),
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset: SQLite file under home."
    )
    api_key: SecretStr | None = Field(
        default=None, description="Required on /feedback and /admin/* when set."
    )
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    reload_interval_s: float = Field(default=300, description="Registry check period; 0: off.")
    dynamic_batch_max: int = Field(
        default=64, ge=1, description="Most waiting /predict requests scored together; 1: off."
    )
    log_predictions: bool = Field(default=True, description="Store every prediction.")

    @model_validator(mode="after")
    def _no_default_key_in_production(self) -> ApiSettings:
        if self.environment == "production":
            key = self.api_key.get_secret_value() if self.api_key else ""
            if key in ("", DEFAULT_API_KEY) or len(key) < 16:
                raise ValueError(
                    "BADBUZZ_API_KEY must be set to a secret of 16+ characters in production"
                )
        return self

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def cache_dir(self) -> Path:
        return self.home_dir / "model-cache"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'badbuzz.db'}"
