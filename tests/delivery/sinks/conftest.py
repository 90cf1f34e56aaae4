"""Fixtures for the sink tests: real trigger contents of every kind (tests/support/triggers.py),
made once per session."""

from __future__ import annotations

import pytest

from tests.support.triggers import build
from warden.core.notification import Notification


@pytest.fixture(scope="session")
def notifications(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Notification]:
    return build(tmp_path_factory.mktemp("triggers"))
