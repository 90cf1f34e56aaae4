"""Finding connectors and sinks through their entry-point groups."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from warden.errors import PluginError

CONNECTORS = "warden.connectors"
SINKS = "warden.sinks"


@cache
def available(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def load(group: str, name: str) -> Any:
    eps = available(group)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise PluginError(group, name, f"unknown; available: {known}")
    try:
        return eps[name].load()
    except Exception as exc:
        raise PluginError(group, name, f"cannot be loaded: {type(exc).__name__}: {exc}") from exc
