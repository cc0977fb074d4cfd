"""Every setting, read once from the environment (prefix BADBUZZ_) and `.env`.

`BadbuzzSettings` holds what all parts share (the data folder and the folders derived from
it, the registered model's name, the MLflow server); each part has its own subclass with
its own fields. The ops part's many settings come in groups (SMTP, alerts, latency, outbox,
digest, retention, retrain, buzz, drift), one field each of `OpsSettings`, under the same
variable names as ever: `BADBUZZ_SMTP_HOST` is `settings.smtp.host`. Paths are made
absolute once, here, relative to the working directory, so that no later `chdir`,
subprocess or URI conversion sees a relative path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from badbuzz.bundle.model import RuntimeOptions
from badbuzz.bundle.signing import SignaturePolicy, load_signing_key
from badbuzz.metric_names import DEFAULT_FLOOR, KPI

DEFAULT_API_KEY = "change-me"
MAX_BATCH_TWEETS = 1_000  # the most tweets one /predict/batch takes (api/schemas.py)
# A Twitter handle without its @, and a brand name as the API accepts it (api/schemas.py).
HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
BRAND = re.compile(r"[A-Za-z0-9_.&'+-]([A-Za-z0-9 _.&'+-]{0,62}[A-Za-z0-9_.&'+-])?")


def _real_secret(key: str) -> bool:
    return key != DEFAULT_API_KEY and len(key) >= 16


def absolute(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser().resolve()


class BadbuzzSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BADBUZZ_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("~/.badbuzz"),
        description="Data folder: embedded MLflow store, data cache, model cache, reports, "
        "default database. A relative path is taken from the working directory.",
    )
    model_name: str = Field(default="tweet-sentiment", description="Registered model name.")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "BADBUZZ_MLFLOW_TRACKING_URI"),
        description="MLflow server; unset means the embedded SQLite store under `home`.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @property
    def data_cache_dir(self) -> Path:
        """Downloaded or imported Sentiment140 files."""
        return self.home / "data"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def mlflow_dir(self) -> Path:
        """The embedded MLflow store (used when no tracking URI is set)."""
        return self.home / "mlflow"

    @property
    def model_cache_dir(self) -> Path:
        """Downloaded bundles and TFLite conversions of Keras-only bundles."""
        return self.home / "model-cache"

    def runtime_options(self, onnx_threads: int | None = None) -> RuntimeOptions:
        """How bundles load on this machine."""
        return RuntimeOptions(cache_dir=self.model_cache_dir, onnx_threads=onnx_threads)


class TrainingSettings(BadbuzzSettings):
    sentiment140: Path | None = Field(
        default=None,
        description="Local Sentiment140 file or folder; skips the download.",
    )
    signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs every bundle training logs; unset: "
        "unsigned bundles, which only a development API without a verify key loads.",
    )
    torch_threads: int | None = Field(
        default=None, ge=1, description="CPU threads for PyTorch; unset: all cores."
    )

    @field_validator("sentiment140", "signing_key", mode="after")
    @classmethod
    def _absolute_path(cls, path: Path | None) -> Path | None:
        return absolute(path)

    @field_validator("signing_key", mode="after")
    @classmethod
    def _a_usable_key(cls, path: Path | None) -> Path | None:
        if path is not None:  # a wrong key must stop training before it runs, not after
            load_signing_key(path)
        return path


# The groups of the ops part's settings. Each is one `OpsSettings` field, read from the
# variables `BADBUZZ_<GROUP>_<FIELD>`: `OpsSettings.smtp.host` is `BADBUZZ_SMTP_HOST`, as it
# was when they were all flat fields (`smtp_host`). A group is a plain model: only the part's
# settings read the environment and `.env`, once, so a group built by hand (a test, a
# bench) holds its defaults and what it is given, nothing else.
class GroupSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)


class SmtpSettings(GroupSettings):
    """`BADBUZZ_SMTP_*`: the mail server."""

    host: str | None = Field(default=None, description="Mail server; unset: no mail.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Unset: 25, 587 (starttls) or 465 (ssl)."
    )
    security: Literal["none", "starttls", "ssl"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    sender: str = Field(
        default="badbuzz@localhost",
        validation_alias="from",  # BADBUZZ_SMTP_FROM: `from` is a Python keyword
        description="Sender address.",
    )
    timeout_s: float = Field(default=10.0, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]


class AlertSettings(GroupSettings):
    """`BADBUZZ_ALERT_*`: who the alerts mail, how many an hour, and the wrong-prediction
    rule's constants (its cooldown and check interval serve the latency rule too)."""

    to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Recipients, comma-separated."
    )
    threshold: int = Field(default=3, ge=1, description="Wrong predictions that alert.")
    window_seconds: float = Field(default=300, gt=0, description="...within this window.")
    cooldown_seconds: float = Field(
        default=900, ge=0, description="After an alert, the same rule stays quiet this long."
    )
    check_interval_s: float = Field(
        default=1.0, gt=0, description="How often the rules are evaluated (and at each flag)."
    )
    mails_per_hour: int = Field(
        default=10,
        ge=1,
        description="Most alert mails sent in any rolling hour; the surplus is held and listed "
        "in one summary mail once the hour allows (the daily digest is not counted).",
    )

    @field_validator("to", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [address.strip() for address in value.split(",") if address.strip()]
        return value


class LatencySettings(GroupSettings):
    """`BADBUZZ_LATENCY_*`: the latency rule."""

    p95_ms: float = Field(
        default=250.0, gt=0, description="p95 of /predict above this raises a latency alert."
    )
    window_seconds: float = Field(default=300, gt=0)
    min_requests: int = Field(
        default=50, ge=1, description="Fewer /predict requests in the window: no verdict."
    )


class OutboxSettings(GroupSettings):
    """`BADBUZZ_OUTBOX_*`: the mails' retries."""

    max_backoff_s: float = Field(
        default=300, gt=0, description="Longest wait between two tries of an unsent mail."
    )


class DigestSettings(GroupSettings):
    """`BADBUZZ_DIGEST_*`: the daily digest mail."""

    hour_utc: int | None = Field(
        default=7, ge=0, le=23, description="Hour of the daily digest mail; unset: none."
    )


class RetentionSettings(GroupSettings):
    """`BADBUZZ_RETENTION_*`: how long predictions are kept."""

    days: float = Field(
        default=30, gt=0, description="Predictions older than this are deleted daily."
    )


class RetrainSettings(GroupSettings):
    """`BADBUZZ_RETRAIN_*`: the scheduled retrain (ops/scheduled_retrain.py); README
    "Retraining from feedback"."""

    cron: str | None = Field(
        default=None,
        description="When to retrain from the feedback, as a crontab line (UTC), e.g. "
        "`0 3 * * *`; unset: never. Needs the training install where the API runs.",
    )
    min_new_verdicts: int = Field(
        default=200,
        ge=1,
        description="A scheduled retrain trains only when this many verdicts came in since "
        "the champion was registered.",
    )
    timeout_s: float = Field(
        default=3600, gt=0, description="A scheduled retrain running longer is killed."
    )

    @field_validator("cron", mode="after")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:  # APScheduler is the API's (the `api-tflite` extra); it parses the line there
            from apscheduler.triggers.cron import CronTrigger
        except ImportError:
            return value.strip()
        try:
            CronTrigger.from_crontab(value.strip())
        except ValueError as error:
            raise ValueError(
                f"BADBUZZ_RETRAIN_CRON {value!r} is not a crontab line ({error}): write five "
                "fields, minute hour day month weekday, in UTC, e.g. '0 3 * * *' for 03:00 "
                "every day; or unset it (no scheduled retrain)"
            ) from None
        return value.strip()


class BuzzSettings(GroupSettings):
    """`BADBUZZ_BUZZ_*`: the bad-buzz watch's detector (ops/buzz.py); README "The bad-buzz
    watch" gives each default's reason. The brands it watches are `OpsSettings.brands`."""

    window_seconds: int = Field(
        default=3600,
        ge=60,
        le=86_400,
        description="Length of the windows negatives are counted in (a divisor of a day).",
    )
    baseline_windows: int = Field(
        default=168, ge=3, le=10_000, description="Past windows a brand's state keeps."
    )
    min_history_days: int = Field(
        default=3, ge=1, description="Fewer past days of a brand's tweets: no verdict yet."
    )
    min_daily_tweets: int = Field(
        default=24,
        ge=1,
        description="...each of those days holding at least this many tweets of the brand.",
    )
    min_negatives: int = Field(
        default=10, ge=1, description="Fewer negatives in a window never make a buzz."
    )
    z: float = Field(
        default=3.5,
        gt=0,
        description="How improbable a window must be: the tail of z standard deviations.",
    )
    min_ratio: float = Field(
        default=1.5, ge=1, description="...and it holds this many times the expected negatives."
    )
    long_windows: int = Field(
        default=6, ge=1, le=48, description="Windows summed to see a slow pile-up."
    )
    min_share_rise: float = Field(
        default=0.10, ge=0, le=1, description="A share this much above usual alerts too."
    )
    cooldown_seconds: float = Field(
        default=10_800, ge=0, description="After a buzz alert, the brand stays quiet this long."
    )
    grace_seconds: float = Field(
        default=120, ge=0, description="A window is closed this long after its end (late tweets)."
    )
    check_interval_s: float = Field(
        default=10.0, gt=0, description="How often the live watch looks at the open windows."
    )

    @model_validator(mode="after")
    def _history_fits_the_baseline(self) -> BuzzSettings:
        if 86_400 % self.window_seconds:
            raise ValueError(
                "BADBUZZ_BUZZ_WINDOW_SECONDS must divide a day (e.g. 900, 1800, 3600, 7200): "
                "windows are compared with the same time of past days"
            )
        if self.min_history_days * 86_400 // self.window_seconds > self.baseline_windows:
            raise ValueError(
                "BADBUZZ_BUZZ_BASELINE_WINDOWS must hold BADBUZZ_BUZZ_MIN_HISTORY_DAYS days of "
                "windows"
            )
        return self


class DriftSettings(GroupSettings):
    """`BADBUZZ_DRIFT_*`: the drift watch (ops/drift.py); README "Model drift" gives each
    default's reason."""

    window_seconds: float = Field(
        default=3600, gt=0, description="The served model's predictions of this long are compared."
    )
    min_predictions: int = Field(
        default=200, ge=1, description="Fewer predictions in the window: no verdict."
    )
    psi: float = Field(
        default=0.25, gt=0, description="PSI of the scores against validation that alerts."
    )
    z: float = Field(
        default=4.0, gt=0, description="|z| of the negative share against validation that alerts."
    )
    epsilon: float = Field(
        default=1e-4, gt=0, lt=0.1, description="Share given to an empty bin in the PSI."
    )
    cooldown_seconds: float = Field(
        default=86_400, ge=0, description="After a drift alert, the rule stays quiet this long."
    )
    check_interval_s: float = Field(
        default=60, ge=0, description="How often the drift rule reads its window."
    )


class OpsSettings(BadbuzzSettings):
    """The database and the alerting: read by the API process (which runs the ops jobs) and
    by `badbuzz alerts`, `badbuzz buzz replay`; one group per concern."""

    # `BADBUZZ_SMTP_HOST` reaches `smtp.host`: after the group's name, the rest of the
    # variable is the field's name, never split further (`timeout_s`, `window_seconds`).
    model_config = SettingsConfigDict(env_nested_delimiter="_", env_nested_max_split=1)

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset: SQLite file under home."
    )
    brands: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Twitter handles to brands, e.g. `@united=United,@AmericanAir=American`: "
        "a tweet sent without a brand counts for the first handle it mentions (any case), "
        "else under `all`. The API attributes tweets with it; the buzz watch counts by it.",
    )
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    alert: AlertSettings = Field(default_factory=AlertSettings)
    latency: LatencySettings = Field(default_factory=LatencySettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    buzz: BuzzSettings = Field(default_factory=BuzzSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)

    @field_validator("brands", mode="before")
    @classmethod
    def _handles(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        brands: dict[str, str] = {}
        for pair in (part.strip() for part in value.split(",")):
            if not pair:
                continue
            handle, equals, brand = (side.strip() for side in pair.partition("="))
            handle = handle.removeprefix("@")
            if not equals or not HANDLE.fullmatch(handle) or not BRAND.fullmatch(brand):
                raise ValueError(
                    f"{pair!r} is not @handle=Brand: write e.g. "
                    "BADBUZZ_BRANDS=@united=United,@AmericanAir=American (handles: letters, "
                    "digits, _; brands: letters, digits, space, _ . & ' + -, up to 64)"
                )
            brands[f"@{handle.lower()}"] = brand
        return brands

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'badbuzz.db'}"

    @property
    def mail_configured(self) -> bool:
        return bool(self.smtp.host and self.alert.to)


GROUPS: dict[str, type[GroupSettings]] = {
    name: field.annotation
    for name, field in OpsSettings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, GroupSettings)
}


def setting_name(loc: Sequence[int | str]) -> str:
    """The setting a validation error's location names, as its variable after `BADBUZZ_`, in
    lower case: ("smtp", "port") is `smtp_port`. A group's own check (its location the group
    alone) names its variables in its message: no name."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in GROUPS:
        if len(parts) == 1:
            return ""
        parts[:2] = [f"{parts[0]}_{parts[1]}"]
    return ".".join(parts)


def variables(kind: type[BaseSettings]) -> dict[str, tuple[str, ...]]:
    """Every environment variable `kind` reads, and the path of the field it reaches:
    `BADBUZZ_SMTP_HOST` -> ("smtp", "host"). A field read under other names
    (`MLFLOW_TRACKING_URI`) is listed under each of them."""
    prefix = kind.model_config.get("env_prefix", "")

    def names(name: str, field: FieldInfo, within: str) -> list[str]:
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            return [str(choice).upper() for choice in alias.choices]
        return [f"{within}{alias if isinstance(alias, str) else name}".upper()]

    found: dict[str, tuple[str, ...]] = {}
    for name, field in kind.model_fields.items():
        group = GROUPS.get(name)
        if group is not None:
            for inner, inner_field in group.model_fields.items():
                for variable in names(inner, inner_field, f"{prefix}{name}_"):
                    found[variable] = (name, inner)
            continue
        for variable in names(name, field, prefix):
            found[variable] = (name,)
    return found


class ApiSettings(OpsSettings):
    environment: Literal["development", "production"] = "development"
    model_alias: str | None = Field(
        default=None, description="Serve this alias (e.g. champion); unset: best by metric."
    )
    select_metric: str = Field(
        default=KPI,
        description="Version tag ranked when no alias (badbuzz.metric_names; an old name such "
        "as precision reads as negative_precision).",
    )
    min_positive_recall: float = Field(
        default=DEFAULT_FLOOR, ge=0.0, le=1.0, description="positive_recall floor of that ranking."
    )
    embedding_type: str | None = Field(default=None, description="Only versions with this tag.")
    model_bundle: Path | None = Field(
        default=None, description="A local bundle dir or .tar.gz: no registry at all."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The admin key: required on /feedback, /alerts, /buzz and /admin/* when "
        "set; also opens /predict*.",
    )
    ingest_key: SecretStr | None = Field(
        default=None,
        description="Required on /predict and /predict/batch while predictions are stored; "
        "unset: the API key is asked there instead. Opens nothing else.",
    )
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    reload_interval_s: float = Field(default=300, description="Registry check period; 0: off.")
    dynamic_batch_max: int = Field(
        default=64, ge=1, description="Most waiting /predict requests scored together; 1: off."
    )
    log_predictions: bool = Field(default=True, description="Store every prediction.")
    max_concurrent_predictions: int = Field(
        default=128,
        ge=1,
        description="/predict and /predict/batch requests one process handles at once; more "
        "are answered 503 with Retry-After (also the most /predict waiting for a batch).",
    )
    max_unwritten_predictions: int = Field(
        default=10_000,
        ge=MAX_BATCH_TWEETS,
        description="Predictions waiting to be stored; while that many wait (a slow or "
        "unreachable database), /predict* answers 503 with Retry-After.",
    )
    onnx_threads: int | None = Field(
        default=None, ge=1, description="Threads of an ONNX bundle's session; unset: its own."
    )
    verify_key: Path | None = Field(
        default=None,
        description="Ed25519 public key (PEM) of training's signing key: only bundles it "
        "signed are loaded. Required in production.",
    )

    @field_validator("ingest_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes an unset BADBUZZ_INGEST_KEY on as an empty one
        return None if value == "" else value

    @field_validator("model_bundle", "verify_key", mode="after")
    @classmethod
    def _absolute_bundle(cls, path: Path | None) -> Path | None:
        return absolute(path)

    @model_validator(mode="after")
    def _no_default_key_in_production(self) -> ApiSettings:
        if self.environment == "production":
            key = self.api_key.get_secret_value() if self.api_key else ""
            if not _real_secret(key):
                raise ValueError(
                    "BADBUZZ_API_KEY must be set to a secret of 16+ characters in production"
                )
            if self.ingest_key is not None and not _real_secret(self.ingest_key.get_secret_value()):
                raise ValueError(
                    "BADBUZZ_INGEST_KEY must be a secret of 16+ characters in production "
                    "(or unset: /predict then asks for BADBUZZ_API_KEY)"
                )
        return self

    @model_validator(mode="after")
    def _signed_bundles_in_production(self) -> ApiSettings:
        if self.environment == "production" and self.verify_key is None:
            raise ValueError(
                "BADBUZZ_VERIFY_KEY must be set in production: the public key (PEM) of "
                "training's BADBUZZ_SIGNING_KEY, so that only bundles training signed are "
                "loaded (badbuzz keys create makes the pair)"
            )
        self.signature_policy()  # an unreadable or wrong key stops the start, with its reason
        return self

    def signature_policy(self) -> SignaturePolicy:
        """Production, or a verify key: signed bundles only; else unchecked, with a warning."""
        return SignaturePolicy.from_key_file(
            self.verify_key, required=self.environment == "production"
        )

    def runtime_options(self, onnx_threads: int | None = None) -> RuntimeOptions:
        """How bundles load in the API: the base options, and the signature check."""
        return replace(super().runtime_options(onnx_threads), signatures=self.signature_policy())

    @property
    def predict_keys(self) -> list[SecretStr]:
        """The keys /predict* accepts: none while predictions are not stored or no key is set
        (open); else the ingest key (or the API key in its place) and the API key."""
        if not self.log_predictions:
            return []
        return [key for key in (self.ingest_key, self.api_key) if key is not None]


MIN_CONSOLE_PASSWORD = 12


class UiSettings(BadbuzzSettings):
    """The console: where the API answers, the key its /feedback and /alerts ask for, and the
    console's own login."""

    environment: Literal["development", "production"] = "development"
    console_password: SecretStr | None = Field(
        default=None,
        description="Asked in a login form before any page; unset: no login (development).",
    )
    console_login: Literal["own", "proxy"] = Field(
        default="own",
        description="proxy: a reverse proxy with its own login is the only way to the console "
        "(compose's Caddy), so production runs without a password here.",
    )

    api_url: str = Field(
        default="http://127.0.0.1:8000", description="The badbuzz API the console talks to."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Sent as X-API-Key to /feedback, /alerts, /buzz and /predict* (the API key "
        "opens them all).",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="Longest wait for one answer of the API."
    )

    @field_validator("api_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("console_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value  # compose passes an unset variable as ""

    @model_validator(mode="after")
    def _a_login_in_production(self) -> UiSettings:
        if self.environment != "production":
            return self
        password = self.console_password.get_secret_value() if self.console_password else None
        if password is None and self.console_login == "own":
            raise ValueError(
                "the console has no login: set BADBUZZ_CONSOLE_PASSWORD (12+ characters), or "
                "BADBUZZ_CONSOLE_LOGIN=proxy when a reverse proxy with its own login is the "
                "only way to the console (compose)"
            )
        if password is not None and (
            DEFAULT_API_KEY in password or len(password) < MIN_CONSOLE_PASSWORD
        ):
            raise ValueError(
                f"BADBUZZ_CONSOLE_PASSWORD must be a real password of {MIN_CONSOLE_PASSWORD}+ "
                "characters in production"
            )
        return self
