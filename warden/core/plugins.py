"""Finding connectors and sinks through their entry-point groups."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from warden.core.errors import ConfigError, PluginError, Problem
from warden.core.yamlfile import describe

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


OptionsT = TypeVar("OptionsT", bound=BaseModel)


def options(model: type[OptionsT], raw: Mapping[str, Any], where: str) -> OptionsT:
    """Validate a connector's or sink's options, naming each bad key."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(
            [Problem(where, f"options.{describe(dict(e))}") for e in exc.errors()]
        ) from exc
