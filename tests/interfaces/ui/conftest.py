"""The web view's fixtures: a real daemon (`Warden` of tests/support/varied_run.py, with real
triggers: early warnings, firing, resolving, nodata, an acknowledgement, a silence, a catalog
change) plus a model firing now and a forecast, served by uvicorn on loopback; and a headless
Chromium driven by Selenium through Debian's chromedriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import serving
from tests.support.varied_run import _obs, run
from warden.app.daemon import Warden
from warden.store import feeds as feed_rows
from warden.store import observations as obs_rows
from warden.triggerlog.keys import new_key_pair

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRED = any(
    os.environ.get(v) == "1" for v in ("WARDEN_REQUIRE_BROWSER", "WARDEN_REQUIRE_PROMSTACK")
)


@dataclass
class Served:
    url: str
    warden: Warden
    public_key: bytes


def daemon(folder: Path, database_url: str, *, public_read: bool = False) -> tuple[Warden, bytes]:
    """The varied run, then acme/m4 firing now, a failing feed, a rising frontier (for a
    forecast), a verified chain and an Ed25519 `checkpoint_key` (signed exports)."""
    w, clock = run(folder, database_url, public_read=public_read)
    with w.store.write() as conn:
        obs_rows.insert_observations(
            conn, "lab", [_obs("acme/m4", "ctf", "acc", 0.9, clock(), stderr=0.01, n=300)], clock()
        )
    w.evaluate()
    with w.store.write() as conn:  # a feed that fails
        feed_rows.ensure_feed(conn, "lab", "inspect_logs")
        started = feed_rows.start_run(conn, "lab", "inspect_logs", clock())
        feed_rows.finish_run(
            conn, started, "lab", clock(), feed_rows.RunCounts(), "unreachable", reason="network"
        )
    with w.store.write() as conn:
        points = [
            _obs(f"acme/f{i}", "ctf", "acc", 0.1 + 0.04 * i, clock() - timedelta(days=700 - 50 * i))
            for i in range(12)
        ]  # fmt: skip
        obs_rows.insert_observations(conn, "lab", points, clock())
    w.forecast()
    w.verify_log()
    private, public, _ = new_key_pair()
    key = folder / "checkpoint.key"
    key.write_bytes(private)
    w.settings = w.settings.model_copy(update={"checkpoint_key": str(key)})
    return w, public


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[Served]:
    w, public = daemon(tmp_path, db_url)
    with serving(w) as url:
        yield Served(url, w, public)


def _need(path: Path) -> None:
    if not (path.exists() and shutil.which(str(path))):
        message = f"{path} is absent (apt-get install chromium chromium-driver)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (one per module: starting one takes seconds)."""
    _need(CHROMIUM)
    _need(CHROMEDRIVER)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if REQUIRED:
            pytest.fail("selenium is not installed (pip install -e '.[dev]')")
        pytest.skip("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=en-GB"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
