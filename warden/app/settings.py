"""Configuration: a YAML file (`--config FILE` or `WARDEN_CONFIG`) overridden by `WARDEN_*`
environment variables (`__` for nesting: `WARDEN_HTTP__PORT=9500`). The only module that reads
the environment or the config file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from warden.alerting.routing import DEFAULT_INHIBIT, InhibitSettings, RouteSettings
from warden.core.config import Duration, Strict
from warden.core.errors import ConfigError, Problem
from warden.core.yamlfile import LocatedYaml, YamlError, problems_from
from warden.delivery.settings import DispatchSettings
from warden.ingest.settings import IngestSettings
from warden.metrics.settings import MetricsSettings

ENV_PREFIX = "WARDEN_"
CONFIG_ENV = "WARDEN_CONFIG"
# Environment variables with the prefix that are not settings keys.
NOT_SETTINGS = {
    "WARDEN_CONFIG",
    "WARDEN_TEST_DATABASE_URL",
    "WARDEN_REQUIRE_PROMSTACK",
    "WARDEN_REQUIRE_BROWSER",
}
BUNDLED = "bundled"
LEGACY_TOKEN = "api_token"  # the name the single `api_token` (an admin token) goes by


ROLES = ("read", "write", "admin")  # each may do what the ones before it may


class TokenSettings(Strict):
    """A named bearer token of the HTTP API (docs/reference/configuration.md#http-tokens). The
    config holds its SHA-256, or the name of the environment variable that holds the token;
    never the token itself."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    role: Literal["read", "write", "admin"]
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    _digest: str = PrivateAttr("")

    @model_validator(mode="after")
    def _resolve(self) -> TokenSettings:
        if (self.sha256 is None) == (self.env is None):
            raise ValueError(
                "give either sha256 (the hex SHA-256 of the token) or env (the name of the "
                "environment variable that holds it)"
            )
        if self.env is None:
            assert self.sha256 is not None
            self._digest = self.sha256.lower()
            return self
        if self.env.upper().startswith(ENV_PREFIX):
            raise ValueError(f"env {self.env!r}: WARDEN_* variables are settings; name another")
        value = os.environ.get(self.env, "")
        if len(value) < MIN_TOKEN_CHARS:
            got = "is not set" if not value else f"holds {len(value)} characters"
            raise ValueError(
                f"env {self.env!r} {got}: a token needs at least {MIN_TOKEN_CHARS} "
                "(`openssl rand -hex 32` makes one)"
            )
        self._digest = hashlib.sha256(value.encode()).hexdigest()
        return self

    @property
    def digest(self) -> str:
        """The hex SHA-256 of the token, which a presented token's is compared with."""
        return self._digest


MIN_TOKEN_CHARS = 16


class HttpSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)
    # The read endpoints (triggers, alerts, catalog, feeds, ...) answer without a token.
    public_read: bool = False
    tokens: list[TokenSettings] = Field(default_factory=list)

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, items: list[TokenSettings]) -> list[TokenSettings]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"duplicate token name {item.name!r}")
            seen.add(item.name)
        return items


class FeedSettings(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    connector: str
    every: Duration = Field(60.0, gt=0, description="seconds between runs, or '15m', '6h'")
    # Or a crontab schedule (five fields, UTC), e.g. "0 */6 * * *"; not both.
    cron: str | None = None
    # Evidence from this feed older than this (seconds) does not count, whatever the threshold.
    stale_after: Duration | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_schedule(self) -> FeedSettings:
        if self.cron is not None:
            if "every" in self.model_fields_set:
                raise ValueError("give either every or cron, not both")
            from warden.app.scheduler import cron_problem

            why = cron_problem(self.cron)
            if why:
                raise ValueError(f"cron {self.cron!r}: {why}")
        return self


class HaSettings(Strict):
    """Several replicas on PostgreSQL (docs/explanation/high-availability.md): one leader runs
    the schedules; another takes over within `failover_seconds` when it dies or stalls."""

    failover_seconds: Duration = Field(15.0, ge=1.0, le=3600.0)
    # This daemon's name among the replicas; default host:port (unique per daemon).
    replica: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$")


class SinkSettings(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    type: str
    options: dict[str, Any] = Field(default_factory=dict)
    # This sink's own dispatch.retry_for and dispatch.backoff_max_seconds ("24h", "5m").
    retry_for: Duration | None = Field(None, gt=0)
    backoff_max: Duration | None = Field(None, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str = "sqlite:///var/warden.db"
    catalog: list[str] = Field(default_factory=lambda: [BUNDLED])
    registry: list[str] = Field(default_factory=lambda: [BUNDLED])
    http: HttpSettings = Field(default_factory=HttpSettings)
    api_token: SecretStr | None = None
    evaluate_every: Duration = Field(60.0, gt=0)
    feeds: list[FeedSettings] = Field(default_factory=list)
    sinks: list[SinkSettings] = Field(default_factory=list)
    # Which sinks each alert goes to (docs/reference/routing.md); none: every alert to every sink.
    routes: list[RouteSettings] = Field(default_factory=list)
    # Firing alerts that hold back the notifications of others; default: a firing high or
    # critical level hides the early warning of the same family and subject.
    inhibit: list[InhibitSettings] = Field(default_factory=lambda: list(DEFAULT_INHIBIT))
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    log_format: str = Field("auto", pattern="^(auto|json|text)$")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    # How often the daemon verifies the trigger log's hash chain (warden_trigger_log_verified).
    verify_every: Duration = Field(3600.0, gt=0)
    # Checkpoints of the trigger log (docs/how-to/audit-trigger-log.md): how often the daemon
    # issues one, the file it writes the newest to, the Ed25519 private key (`warden log keygen`)
    # that signs them, and the log's name in them (the origin; no spaces or "+").
    checkpoint_every: Duration = Field(3600.0, gt=0)
    checkpoint_file: str | None = None
    checkpoint_key: str | None = None
    log_origin: str = Field("warden.local/trigger-log", pattern=r"^[^\s+]+$")
    # How often the daemon projects the frontiers' trends for the forecast metrics.
    forecast_every: Duration = Field(3600.0, gt=0)
    ha: HaSettings = Field(default_factory=HaSettings)

    @field_validator("feeds", "sinks")
    @classmethod
    def _unique_ids(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"duplicate id {item.id!r}")
            seen.add(item.id)
        return items

    @model_validator(mode="after")
    def _legacy_token_name(self) -> Settings:
        if self.api_token is not None and any(t.name == LEGACY_TOKEN for t in self.http.tokens):
            raise ValueError(
                f"http.tokens: the name {LEGACY_TOKEN!r} is api_token's (an admin token); "
                "choose another"
            )
        return self

    @model_validator(mode="after")
    def _routes_name_sinks(self) -> Settings:
        known = {s.id for s in self.sinks}
        listed = ", ".join(sorted(known)) or "none"
        for i, route in enumerate(self.routes):
            for name in (*route.sinks, *route.escalate_to):
                if name not in known:
                    raise ValueError(f"routes.{i}: no sink {name!r} (sinks: {listed})")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)

    def catalog_paths(self) -> list[Path]:
        from thresholds import bundled_catalog

        return [bundled_catalog() if c == BUNDLED else Path(c) for c in self.catalog]

    def registry_paths(self) -> list[Path]:
        from thresholds import bundled_registry

        return [bundled_registry() if r == BUNDLED else Path(r) for r in self.registry]


def config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load settings from `path` (or `WARDEN_CONFIG`) and the environment.

    Raises ConfigError listing every problem, each naming its key (and file:line when it came
    from the file).
    """
    file = config_path(path)
    doc: LocatedYaml | None = None
    data: dict[str, Any] = {}
    if file is not None:
        if not file.is_file():
            raise ConfigError([Problem(str(file), "config file not found")])
        try:
            doc = LocatedYaml.read(file)
        except YamlError as exc:
            raise ConfigError(exc.problems) from exc
        if doc.data is None:
            data = {}
        elif isinstance(doc.data, dict):
            data = doc.data
        else:
            raise ConfigError([Problem(doc.where([]), "the config must be a mapping of keys")])
    unknown = [
        k
        for k in os.environ
        if k.startswith(ENV_PREFIX)
        and k not in NOT_SETTINGS
        and k[len(ENV_PREFIX) :].split("__")[0].lower() not in Settings.model_fields
    ]
    if unknown:
        raise ConfigError([Problem(k, "unknown setting in the environment") for k in unknown])
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_locate(exc, doc)) from exc
    except SettingsError as exc:  # an environment value that is not valid JSON for a list/map
        raise ConfigError([Problem("environment", str(exc))]) from exc


def _env_source(loc: tuple[str | int, ...]) -> str:
    """The environment variable a bad value came from, if any."""
    names = [
        ENV_PREFIX + "__".join(str(p) for p in loc[:i]).upper() for i in range(len(loc), 0, -1)
    ]
    return next((f"environment {n}" for n in names if n in os.environ), "")


def _locate(exc: ValidationError, doc: LocatedYaml | None) -> list[Problem]:
    """Problems naming their key, with file:line when the key's section came from the file
    (otherwise it came from the environment)."""
    problems = []
    for problem, error in zip(problems_from(exc, None), exc.errors(), strict=True):
        loc = error["loc"]
        env = _env_source(loc)
        in_file = (
            doc is not None and isinstance(doc.data, dict) and bool(loc) and loc[0] in doc.data
        )
        where = env or (doc.where(loc) if doc is not None and in_file else "")
        problems.append(Problem(where, problem.message))
    return problems
