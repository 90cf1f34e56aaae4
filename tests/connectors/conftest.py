"""Fixtures for the connector tests: a real store (SQLite file, and PostgreSQL when
WARDEN_TEST_DATABASE_URL is set) and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

# After every time the fixtures carry (Inspect logs are made as the tests run): ingest rejects
# observations dated in the future of its clock.
NOW = datetime(2100, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW
