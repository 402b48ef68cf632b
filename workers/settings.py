"""The one settings object: every NEWSWATCH_* variable, read and validated here only."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from alerts.smtp_target import SmtpTarget

PACKAGE_OUTLETS_DIR = Path(__file__).resolve().parent.parent / "sources" / "outlets"


# The value .env.example ships for every secret: a deployment still using it is refused.
PLACEHOLDER_SECRET = "change-me"  # noqa: S105 -- the value refused, not a credential


def _check_url_parts(url: str) -> None:
    """Refuse a server URL whose host or port cannot be read, naming no part of it (a password
    with an unencoded "/", "#", "?" or "@" splits the URL in the wrong place)."""
    hint = "cannot read its host and port; percent-encode / # ? @ : in the user and password"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(hint) from None
    if not parts.hostname and not parts.path.startswith("/") and "host=" not in parts.query:
        raise ValueError(hint)
    if parts.password == PLACEHOLDER_SECRET:
        raise ValueError(f"the password is .env.example's placeholder {PLACEHOLDER_SECRET!r}")


class Settings(BaseSettings):
    """Configuration from the environment (and a `.env` file); fails fast on nonsense."""

    # hide_input_in_errors: a rejected URL (SMTP, broker, database) may carry a password.
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(Path("data"), description="Where the embedded default keeps its files.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in data_dir.")
    broker_url: SecretStr = Field(
        SecretStr(""), description="Celery broker; empty = kombu's SQLite transport in data_dir."
    )
    outlets_dir: Path = Field(PACKAGE_OUTLETS_DIR, description="Folder of outlet TOML files.")
    watches_file: Path | None = Field(
        None, description="Watches TOML; default data_dir/watches.toml."
    )
    smtp_url: SecretStr = Field(
        SecretStr(""), description="smtp:// or smtps://; empty = .eml files."
    )
    mail_from: str = Field("newswatch <newswatch@localhost>", description="From address of emails.")
    outbox_dir: Path | None = Field(None, description="Where .eml files go without SMTP.")
    ops_email: str = Field("", description="Recipient of operational alarms (extraction drift).")
    unsubscribe_url: str = Field(
        "",
        description="List-Unsubscribe target of alert emails: mailto:ADDRESS or an https URL "
        "({watch} becomes the watch id); empty = a mailto to the sender.",
    )
    allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CIDRs the SSRF guard lets through (comma separated)."
    )
    user_agent: str = Field(
        "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)",
        description="User-Agent with a contact URL.",
    )
    max_body_bytes: int = Field(15 * 1024 * 1024, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    request_deadline: float = Field(45.0, gt=0, description="Wall-clock cap per request.")
    respect_robots: bool = True
    per_host_concurrency: int = Field(2, ge=1)
    per_host_spacing: float = Field(1.0, ge=0, description="Seconds between requests to one host.")
    poll_floor_seconds: int = Field(300, ge=1)
    poll_ceiling_seconds: int = Field(86400, ge=1)
    disable_after_days: float = Field(7.0, gt=0)
    max_entries_per_poll: int = Field(500, ge=1)
    dispatch_interval_seconds: float = Field(30.0, gt=0)
    alert_interval_seconds: int = Field(3600, ge=60)
    task_soft_time_limit: int = Field(120, ge=1)
    task_time_limit: int = Field(180, ge=2)
    visibility_timeout: int = Field(3600, ge=1)
    worker_concurrency: int = Field(2, ge=1)
    log_json: bool = False
    log_level: str = "INFO"
    flower_basic_auth: SecretStr = Field(SecretStr(""), description="user:password for Flower.")
    metrics_dir: Path | None = Field(None, description="prometheus multiprocess dir.")

    @field_validator(
        "data_dir", "outlets_dir", "watches_file", "outbox_dir", "metrics_dir", mode="before"
    )
    @classmethod
    def _blank_path_is_unset(cls, value: object, info: ValidationInfo) -> object:
        # `NEWSWATCH_METRICS_DIR=` (the style of .env.example) must mean "not set": as a Path,
        # "" is the current directory, which `run` would have emptied of metric files and the
        # outbox and watches would have been read from.
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name or ""].get_default(call_default_factory=True)
        return value

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"NEWSWATCH_ALLOWED_NETWORKS: {cidr!r} is not a CIDR") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("NEWSWATCH_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        if value.startswith("postgresql"):
            _check_url_parts(value)
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker(cls, value: SecretStr) -> SecretStr:
        # The broker clients parse the URL only when they connect, and their errors quote the
        # piece they could not read: an unencoded "/" in a password ends up in a traceback.
        url = value.get_secret_value()
        if url and not url.startswith(("redis://", "rediss://", "sqla+sqlite://")):
            raise ValueError("must be a redis://, rediss:// or sqla+sqlite:// URL")
        if url.startswith(("redis://", "rediss://")):
            _check_url_parts(url)
        return value

    @field_validator("unsubscribe_url")
    @classmethod
    def _check_unsubscribe(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("mailto:", "https://", "http://")):
            raise ValueError("must be mailto:ADDRESS or an http(s) URL")
        if value.startswith("mailto:") and "@" not in value:
            raise ValueError("mailto: needs an address")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp(cls, value: SecretStr) -> SecretStr:
        # Fail at start-up, not at the first alert; the errors name no part of the URL.
        if value.get_secret_value():
            SmtpTarget.parse(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.task_time_limit <= self.task_soft_time_limit:
            raise ValueError("NEWSWATCH_TASK_TIME_LIMIT must exceed NEWSWATCH_TASK_SOFT_TIME_LIMIT")
        if self.poll_ceiling_seconds < self.poll_floor_seconds:
            raise ValueError("NEWSWATCH_POLL_CEILING_SECONDS must be >= the floor")
        return self

    # Derived values: computed, never stored, so they cannot disagree with the inputs.
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'newswatch.db').resolve()}"

    @property
    def effective_broker_url(self) -> str:
        url = self.broker_url.get_secret_value()
        return url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def embedded_broker(self) -> bool:
        return self.effective_broker_url.startswith("sqla+")

    @property
    def effective_watches_file(self) -> Path:
        return self.watches_file or self.data_dir / "watches.toml"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"


# The `.env` file settings are read from (relative to the current directory). The demo sets it
# to None while it runs: it must not reach a database, broker or SMTP server that file names.
ENV_FILE: str | None = ".env"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(_env_file=ENV_FILE)
