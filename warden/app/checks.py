"""Checks of the world a config points at, without side effects: the database (a dialect warden
supports, and it answers), the feeds' sources (they exist and can be read; URLs only when asked,
`online`), the sinks' secrets (present, not a placeholder), and every threshold's benchmark and
metric (known to the registry or to the store's observations, with a "did you mean" for a near
miss). `warden check` prints them (errors exit 2, warnings are counted; `--strict` makes them
errors); the daemon logs them at start and exports their count as `warden_check_warnings`.

Syntax is checked elsewhere (settings, catalog, plugins' options); these look at what the
syntax names. Nothing here creates, migrates or writes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, SecretStr

from warden.alerting.routing import Router
from warden.catalog.registry import Registry
from warden.catalog.thresholds import Catalog
from warden.core.redact import redact_loose
from warden.core.suggest import did_you_mean
from warden.store import StoreUnavailable, UnsupportedDatabase
from warden.store.probe import look

if TYPE_CHECKING:
    from warden.app.settings import Settings


class Parts(Protocol):
    """What the checks read of the assembled parts (warden.app.daemon.Parts)."""

    @property
    def catalog(self) -> Catalog | None: ...

    @property
    def feeds(self) -> Mapping[str, Any]: ...  # feed id -> Feed (its `connector`)

    @property
    def sinks(self) -> Mapping[str, Any]: ...


# The `check` label of warden_check_warnings: a bounded set.
CHECKS = ("database", "feed_source", "sink_secret", "threshold_metric", "route")
URL_TIMEOUT_SECONDS = 10.0
# A value written where a secret belongs that is not one: a variable YAML does not expand, a
# template's placeholder.
PLACEHOLDER = re.compile(
    r"^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|<[^>]*>|change[-_ ]?me|todo|xxx+|secret)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    where: str  # the config key or threshold it is about
    message: str
    error: bool = False  # an error (`warden check` exits 2) or a warning

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # What could not be looked at, said so rather than passed as ok ("2 feed URLs (--online)").
    not_checked: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what was looked at, for the ok line

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.error]

    def counts(self) -> dict[str, int]:
        """Findings per check (every check listed, 0 when clean): the metric's samples."""
        out = dict.fromkeys(CHECKS, 0)
        for f in self.findings:
            out[f.check] += 1
        return out


def check_world(
    settings: Settings, parts: Parts, *, online: bool = False, store: bool = True
) -> Report:
    """Every check of the module over `settings` and the `parts` assembled from them. Without
    `store` the database is not looked at (the daemon, which has just opened it)."""
    report = Report()
    observed: set[tuple[str, str]] = set()
    if store:
        observed = _database(settings.database_url, report)
    _feeds(parts, report, online)
    _sinks(settings, parts, report)
    if parts.catalog is not None:
        report.findings += threshold_metrics(parts.catalog, observed)
        report.checked.append(f"{len(parts.catalog.thresholds)} thresholds' benchmarks")
        report.findings += routes(settings, parts.catalog, list(parts.sinks))
    return report


def routes(settings: Settings, catalog: Catalog, sinks: list[str]) -> list[Finding]:
    """Routes no threshold reaches in any state, and thresholds no route takes when they fire
    (recorded, never notified)."""
    if not settings.routes:
        return []
    router = Router(settings.routes, sinks, settings.inhibit)
    found = [
        Finding("route", "", f"routes.{i} matches no threshold of the catalog in any state")
        for i in router.unused(catalog.thresholds)
    ]
    if unrouted := router.unrouted(catalog.thresholds):
        shown = ", ".join(unrouted[:5]) + (
            f" and {len(unrouted) - 5} more" if len(unrouted) > 5 else ""
        )
        found.append(
            Finding(
                "route",
                "",
                f"no route takes {len(unrouted)} thresholds when they fire: {shown} (recorded, "
                "never notified)",
            )
        )
    return found


def _database(url: str, report: Report) -> set[tuple[str, str]]:
    try:
        seen = look(url)
    except UnsupportedDatabase as exc:
        message = f"{exc.url!r}: {exc.why}"
        report.findings.append(Finding("database", "database_url", message, error=True))
        return set()
    except StoreUnavailable as exc:
        report.findings.append(
            Finding("database", "database_url", f"{exc.where} does not answer: {exc.cause}", True)
        )
        return set()
    if not seen.exists:
        report.not_checked.append(
            f"observations in the store (no database yet at {seen.path}: `warden run`, "
            "`warden ingest` or `warden db upgrade` creates it)"
        )
        parent = seen.path.parent if seen.path is not None else None
        if parent is not None and parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
            report.findings.append(
                Finding("database", "database_url", f"cannot create {seen.path}: {parent} is "
                        "not writable", error=True)
            )  # fmt: skip
        return set()
    report.checked.append(f"the {seen.dialect} database answers")
    if not seen.migrated:
        report.not_checked.append(f"observations in the store ({seen.where} has no schema yet)")
    return seen.pairs


def _feeds(parts: Parts, report: Report, online: bool) -> None:
    urls = 0
    for fid, feed in parts.feeds.items():
        source = getattr(getattr(feed.connector, "options", None), "source", None)
        if not isinstance(source, str):
            continue
        where = f"feeds.{fid}.options.source"
        if source.startswith(("http://", "https://")):
            urls += 1
            if online and (why := _url_problem(source)):
                report.findings.append(Finding("feed_source", where, why, error=True))
            continue
        if why := _path_problem(Path(source)):
            report.findings.append(Finding("feed_source", where, why, error=True))
    checked = len(parts.feeds) - (0 if online else urls)
    if checked:
        report.checked.append(f"{checked} feed sources")
    if urls and not online:
        report.not_checked.append(f"{urls} feed URLs (give --online to fetch them)")


def _path_problem(path: Path) -> str | None:
    """Why a feed cannot read `path`, or None."""
    relative = "" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})"
    shown = redact_loose(str(path))  # a mistyped URL may carry a password or a token
    try:
        if not path.exists():
            return f"{shown!r} does not exist{relative}"
        if path.is_dir():
            with os.scandir(path) as entries:
                next(entries, None)
        else:
            with path.open("rb") as fp:
                fp.read(1)
    except OSError as exc:
        return f"{shown!r} cannot be read: {exc.strerror or exc}{relative}"
    return None


def _url_problem(url: str) -> str | None:
    import requests

    try:
        with requests.get(url, stream=True, timeout=URL_TIMEOUT_SECONDS) as response:
            if response.status_code >= 400:
                return f"{url} answers HTTP {response.status_code} {response.reason}"
    except requests.RequestException as exc:
        return f"{url} cannot be fetched: {type(exc).__name__}: {_first_line(exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sinks(settings: Settings, parts: Parts, report: Report) -> None:
    secrets: list[tuple[str, SecretStr | None]] = [("api_token", settings.api_token)]
    for sid, sink in parts.sinks.items():
        opts = getattr(sink, "options", None)
        if isinstance(opts, BaseModel):
            secrets += [
                (f"sinks.{sid}.options.{name}", value)
                for name, value in _fields(opts)
                if isinstance(value, SecretStr)
            ]
    for where, secret in secrets:
        if secret is None:
            continue
        value = secret.get_secret_value()
        if not value.strip():
            report.findings.append(Finding("sink_secret", where, "is empty", error=True))
        elif PLACEHOLDER.match(value):
            report.findings.append(
                Finding(
                    "sink_secret",
                    where,
                    f"is {value.strip()!r}, a placeholder, not a secret (warden expands no "
                    "variables in its config: write the value, or set the key in the "
                    "environment, e.g. WARDEN_API_TOKEN)",
                    error=True,
                )
            )
    if parts.sinks:
        report.checked.append(f"{len(parts.sinks)} sinks' secrets")


def _fields(model: BaseModel) -> Iterable[tuple[str, Any]]:
    for name in type(model).model_fields:
        yield name, getattr(model, name)


def threshold_metrics(catalog: Catalog, observed: set[tuple[str, str]]) -> list[Finding]:
    """A warning for each benchmark and metric a threshold reads that neither the registry nor
    the store's observations know, with the nearest names ("did you mean")."""
    registry = catalog.registry
    found = []
    for t in catalog.thresholds:
        for benchmark, metric in t.pairs:
            if (benchmark, metric) in observed or registry.metric(benchmark, metric)[1]:
                continue
            found.append(
                Finding(
                    "threshold_metric",
                    f"threshold {t.id}",
                    unknown_pair(registry, observed, benchmark, metric),
                )
            )
    return found


def unknown_pair(
    registry: Registry, observed: set[tuple[str, str]], benchmark: str, metric: str
) -> str:
    """Why (benchmark, metric) is not known, and what is near it."""
    spec = registry.benchmarks.get(benchmark)
    stored = sorted({m for b, m in observed if b == benchmark})
    listed = sorted(
        {n for name, ms in (spec.metrics.items() if spec else ()) for n in (name, *ms.aliases)}
    )
    head = f"benchmark {benchmark!r} metric {metric!r}"
    if spec is None and not stored:
        ids = sorted(set(registry.benchmarks) | {b for b, _ in observed})
        return (
            f"{head}: no such benchmark in the registry, and no observations of it in the "
            f"store{did_you_mean(benchmark, ids)}"
        )
    if stored or listed:
        names = sorted(set(stored) | set(listed))
        where = ", ".join(
            w
            for w in (
                stored and f"observations have {', '.join(stored)}",
                listed and f"the registry lists {', '.join(listed)}",
            )
            if w
        )
        return f"{head}: no such metric ({where}){did_you_mean(metric, names)}"
    return (
        f"{head}: no observations of {benchmark!r} in the store yet and the registry lists none "
        "of its metrics, so the metric name cannot be checked (list it under the benchmark's "
        "`metrics:` to make it known)"
    )
