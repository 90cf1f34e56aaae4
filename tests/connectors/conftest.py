"""Fixtures for the connector tests: a real store (SQLite file, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set) and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW
