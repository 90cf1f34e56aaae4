"""The bundled catalog: if-then capability thresholds, one YAML file per domain."""

from __future__ import annotations

from pathlib import Path


def bundled_catalog() -> Path:
    """The folder holding the bundled catalog files."""
    return Path(__file__).resolve().parent


def bundled_registry() -> Path:
    """The folder holding the bundled registry: canonical benchmark and model ids."""
    return bundled_catalog() / "registry"
