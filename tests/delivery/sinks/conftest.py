"""Fixtures for the sink tests: real trigger contents of every kind (tests/support/triggers.py),
made once per session."""

from __future__ import annotations

import pytest

from tests.support.triggers import build
from warden.core.notification import Notification


@pytest.fixture(scope="session")
def notifications(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Notification]:
    return build(tmp_path_factory.mktemp("triggers"))


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Notification]:
    """Notifications of the bundled catalog's thresholds (loaded with the bundled registry, so
    their numbers carry units and provenance), by the real pipeline (tests/support/bundled.py)."""
    from tests.delivery.sinks.bundled import build as build_bundled

    return build_bundled(tmp_path_factory.mktemp("bundled"))
