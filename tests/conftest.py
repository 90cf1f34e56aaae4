"""Shared fixtures: databases (a SQLite file always, PostgreSQL when WARDEN_TEST_DATABASE_URL is
set), real Inspect AI logs made by inspect-ai with mockllm/model, and the shared samples."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from warden.store import Store

PG_URL = os.environ.get("WARDEN_TEST_DATABASE_URL")
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "realdata" in item.keywords and not SAMPLES.is_dir():
            item.add_marker(pytest.mark.skip(reason=f"{SAMPLES} is absent"))


# The loopback HTTP server and its fixtures for warden.ingest.http's tests.
pytest_plugins = ["tests.support.loopback"]


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent")
    return SAMPLES


def _pg_schema_url(base: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and PostgreSQL (a schema of its own) when
    WARDEN_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warden.db'}"
        return
    if not PG_URL:
        pytest.skip("WARDEN_TEST_DATABASE_URL is not set")
    yield from _pg_schema_url(PG_URL)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """A migrated store on PostgreSQL only (a schema of its own): what exists only there
    (leader election, the epoch). Skipped without WARDEN_TEST_DATABASE_URL."""
    if not PG_URL:
        pytest.skip("WARDEN_TEST_DATABASE_URL is not set")
    for url in _pg_schema_url(PG_URL):
        s = Store(url)
        s.upgrade()
        yield s
        s.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on `db_url`."""
    s = Store(db_url)
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warden.db'}"


@pytest.fixture(scope="session")
def inspect_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real logs written by inspect-ai with mockllm/model, made once per session:
    `eval` (zstd .eval), `json`, `epochs` (2 epochs, mean and max reducers), `error`."""
    from inspect_ai import Epochs
    from inspect_ai import eval as inspect_eval

    from tests.support import inspect_tasks

    root = tmp_path_factory.mktemp("inspect")
    runs = {
        "eval": (inspect_tasks.tiny(), {"log_format": "eval"}),
        "json": (inspect_tasks.tiny(), {"log_format": "json"}),
        "epochs": (
            inspect_tasks.tiny(),
            {"log_format": "eval", "epochs": Epochs(2, ["mean", "max"])},
        ),
        "error": (inspect_tasks.tiny_error(), {"log_format": "eval"}),
    }
    out = {}
    for name, (task, kwargs) in runs.items():
        folder = root / name
        logs = inspect_eval(task, log_dir=str(folder), display="none", **kwargs)
        assert logs, name
        (path,) = list(folder.iterdir())
        out[name] = path
    return out


@pytest.fixture
def log_dir(tmp_path: Path, inspect_logs: dict[str, Path]) -> Path:
    """A folder holding copies of the successful .eval and .json logs."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for name in ("eval", "json"):
        shutil.copy(inspect_logs[name], folder / inspect_logs[name].name)
    return folder
