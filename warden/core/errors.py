"""The exception hierarchy. Each class builds its message from its fields.

User errors (config, catalog, usage) print as one clean line and exit 2; runtime failures exit 1;
bugs keep their traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class WardenError(Exception):
    """Base of every error warden raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem found in a user-supplied file: where it is and what is wrong."""

    where: str  # "file:line" or a dotted key
    message: str
    subject: str | None = None  # e.g. the threshold id

    def __str__(self) -> str:
        head = f"{self.where}: " if self.where else ""
        tail = f" (threshold {self.subject!r})" if self.subject else ""
        return f"{head}{self.message}{tail}"


class ProblemsError(WardenError):
    """A user error made of one or more located problems, all reported at once."""

    exit_code = 2
    kind = "problem"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        noun = self.kind if len(lines) == 1 else f"{self.kind}s"
        super().__init__(f"{len(lines)} {noun}:\n  " + "\n  ".join(lines))


class ConfigError(ProblemsError):
    kind = "config error"


class CatalogError(ProblemsError):
    kind = "catalog error"


class UsageError(WardenError):
    """A request that cannot be carried out as asked (a missing or invalid argument)."""

    exit_code = 2


class NotFound(UsageError):
    """The thing a request names does not exist (no such alert, silence or trigger)."""


class Conflict(UsageError):
    """The thing exists, but its state does not allow the request (nothing to acknowledge, a
    silence already ended)."""


class ParseError(WardenError):
    """A payload that cannot become observations; `reason` is a short code (a metric label)."""

    REASONS = (
        "malformed",
        "truncated",
        "too_large",
        "missing_field",
        "invalid_value",
        "run_error",
        "run_cancelled",
        "invalidated",
        "file_changed",
        "unreadable",
        "unstorable",
        "internal_error",
    )

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        source: str = "",
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown parse error reason {reason!r}")
        self.reason = reason
        self.detail = message
        self.source = source
        self.record = record
        self.field = field
        parts = [
            p for p in (source, record and f"record {record}", field and f"field {field}") if p
        ]
        where = ", ".join(parts)
        super().__init__(f"{where}: {message}" if where else message)


class NotReady(WardenError):
    """A payload that is not complete yet (an Inspect log still running); read it again later."""

    def __init__(self, source: str, why: str) -> None:
        self.source = source
        self.why = why
        super().__init__(f"{source}: {why}")


class PluginError(WardenError):
    exit_code = 2

    def __init__(self, group: str, name: str, why: str) -> None:
        self.group = group
        self.name = name
        super().__init__(f"{group} {name!r}: {why}")


class DeliveryError(WardenError):
    """A sink could not deliver. `permanent` stops retries (bad config, 4xx other than 429)."""

    def __init__(self, sink: str, why: str, *, permanent: bool = False) -> None:
        self.sink = sink
        self.why = why
        self.permanent = permanent
        super().__init__(f"sink {sink!r}: {why}")


class ChainError(WardenError):
    """The trigger log's hash chain does not verify."""

    def __init__(self, seq: int, why: str) -> None:
        self.seq = seq
        self.why = why
        super().__init__(f"trigger {seq}: {why}")
