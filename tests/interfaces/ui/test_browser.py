"""The web view in a real browser (headless Chromium through Selenium and Debian's
chromedriver) against a daemon with real triggers: a page without a token is refused; a reader
logs in with a token, follows the overview to a firing alert's trigger and its evidence, replays
it, filters, pages and searches the log, reads the catalog, forecasts and feeds, downloads the
signed export; a writer acknowledges and silences through the forms, recorded under the token's
name. Each page at laptop and at phone width (390 px, no sideways scrolling), with a screenshot
kept under the test's folder (and copied to /tmp/h/shots when that folder exists).
"""

from __future__ import annotations

import base64
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import requests
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.interfaces.ui.conftest import Served
from tests.support.varied_run import READ_TOKEN, WRITE_TOKEN
from warden.store import actions, reads
from warden.triggerlog.export import verify_export
from warden.triggerlog.keys import load_key

SHOTS = Path("/tmp/h/shots")
LAPTOP, PHONE = (1280, 900), (390, 844)


def _size(driver: Any, size: tuple[int, int], mobile: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile},
    )


def _shot(driver: Any, folder: Path, name: str) -> None:
    """A full-page screenshot: under the test's folder, and in SHOTS to be looked at."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1}
    data = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )["data"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)


def _go(driver: Any, element: Any) -> None:
    """Click `element` and wait for the page it leads to."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(lambda _: _left(page))


def _left(page: Any) -> bool:
    """Whether the browser has left the page whose root element is `page`. Selenium's
    `staleness_of` knows one answer for that; Chromium, asked in the middle of the navigation,
    sometimes gives another ("Node with given id does not belong to the document": seen once in
    a full run), which means the same."""
    try:
        page.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def _login(driver: Any, url: str, token: str, then: str = "/ui/") -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}{then}")
    assert "/ui/login" in driver.current_url
    driver.find_element(By.ID, "token").send_keys(token)
    _go(driver, driver.find_element(By.CSS_SELECTOR, "form.stack-form button"))
    assert driver.current_url == f"{url}{then}", driver.current_url


def _text(driver: Any) -> str:
    return str(driver.find_element(By.TAG_NAME, "main").text)


def test_a_page_without_a_token_is_refused(served: Served, browser: Any, tmp_path: Path) -> None:
    browser.delete_all_cookies()
    _size(browser, LAPTOP, False)
    for path in ("/ui/", "/ui/triggers/3", "/ui/triggers?kind=ack", "/ui/catalog", "/ui/forecasts"):
        browser.get(served.url + path)
        assert "/ui/login?next=" in browser.current_url
        page = browser.page_source
        assert "acme/m" not in page and "lab.ctf" not in page  # nothing leaks
    browser.find_element(By.ID, "token").send_keys("not-a-token-at-all")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "form.stack-form button"))
    assert "missing or wrong bearer token" in _text(browser)
    assert browser.get_cookies() == []
    _shot(browser, tmp_path / "shots", "login-refused-laptop")


def test_governance_staff_in_a_browser(served: Served, browser: Any, tmp_path: Path) -> None:
    url, w, shots = served.url, served.warden, tmp_path / "shots"
    _size(browser, LAPTOP, False)
    _login(browser, url, READ_TOKEN, "/ui/")

    # The overview: what fires, by domain, with the mitigations it requires.
    firing = browser.find_elements(By.CSS_SELECTOR, "article.alert.firing")
    m4 = next(a for a in firing if "acme/m4" in a.text and "Most CTF challenges solved" in a.text)
    assert "Mitigations required" in m4.text and "Brief the board." in m4.text
    assert "not acknowledged" in m4.text
    headings = browser.find_elements(By.CSS_SELECTOR, "main section h2")
    assert headings[0].text == "cyber"  # the domain that fires
    assert "chain intact" in _text(browser)
    assert "lab: failing (network)" in _text(browser)  # the feeds needing attention

    # ... to the trigger and its evidence.
    _go(browser, m4.find_element(By.PARTIAL_LINK_TEXT, "and its evidence"))
    seq = int(browser.current_url.rsplit("/", 1)[1])
    decision = browser.find_element(By.CSS_SELECTOR, ".decision").text
    assert "Most CTF challenges solved became FIRING for acme/m4" in decision
    assert "90% ± 1% (n=300)" in decision and "[proxy]" in decision
    evidence = browser.find_element(By.ID, "evidence")
    source = evidence.find_element(By.CSS_SELECTOR, "a.src")
    assert source.get_attribute("href") == "https://evals.example.org/acme/m4/ctf.json"
    assert "as logged" in evidence.text and "feed" in evidence.text
    main = _text(browser)
    assert "proxy chosen by warden's catalog" in main and "half of the challenges" in main
    with w.store.read() as conn:
        entry = reads.entry(conn, seq)
    assert entry is not None and entry.threshold_version in main
    assert "definition kept" in main and "confidence bound" in main
    assert "entry verifies" in main
    assert browser.find_elements(By.ID, "ack-form") == []  # a reader cannot act
    _go(browser, browser.find_element(By.CSS_SELECTOR, "#replay button"))
    assert "/replay" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, ".replay .badge").text == "reproduced"

    # The trigger log: filter, keyset paging, search.
    browser.get(f"{url}/ui/triggers")
    browser.find_element(By.NAME, "threshold").send_keys("lab.ctf.high")
    Select(browser.find_element(By.NAME, "state")).select_by_visible_text("firing")
    _go(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.log tbody tr")
    assert rows and all("lab.ctf.high" in r.text and "→ firing" in r.text for r in rows)
    seen: list[int] = []
    browser.get(f"{url}/ui/triggers?limit=4")
    while True:
        links = browser.find_elements(By.CSS_SELECTOR, "table.log tbody tr td:first-child a")
        seen += [int(a.text.lstrip("#")) for a in links]
        older = browser.find_elements(By.CSS_SELECTOR, ".pager a[rel=next]")
        if not older:
            break
        _go(browser, older[0])
    with w.store.read() as conn:
        total = reads.trigger_page(conn, reads.TriggerFilter(), limit=500).entries[0].seq
    assert seen == list(range(total, 0, -1)) and total > 20
    browser.get(f"{url}/ui/triggers?q=m4")
    _go(browser, browser.find_element(By.LINK_TEXT, "acme/m4"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.log tbody tr")
    assert rows and all("acme/m4" in r.text for r in rows)

    # The signed export, from the log page's link.
    href = browser.find_element(By.PARTIAL_LINK_TEXT, "signed export").get_attribute("href")
    cookie = {c["name"]: c["value"] for c in browser.get_cookies()}
    got = requests.get(href, cookies=cookie, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        names = sorted(z.namelist())
        data, sig = z.read(names[0]), z.read(names[1])
    verified = verify_export(data, sig, load_key(served.public_key, "the public key"))
    assert verified.entries == total and "ed25519" in verified.signature

    # The catalog with its citations, the forecasts with their plots, the feeds.
    browser.get(f"{url}/ui/catalog")
    high = browser.find_element(By.ID, "t-lab.ctf.high")
    cite = high.find_element(By.LINK_TEXT, "Framework")
    assert cite.get_attribute("href") == "https://example.org/framework"
    assert "proxy chosen by warden's catalog" in high.text and "trigger >= 50%" in high.text
    browser.get(f"{url}/ui/forecasts")
    plot = browser.find_element(By.CSS_SELECTOR, "#f-lab\\.ctf\\.frontier svg.plot")
    assert len(plot.find_elements(By.TAG_NAME, "circle")) >= 12
    assert "likely within" in _text(browser) or "crossed on" in _text(browser)
    browser.get(f"{url}/ui/feeds")
    feed = browser.find_element(By.ID, "feed-lab")
    assert "failing (network)" in feed.text and "inspect_logs" in feed.text

    # Log out: the session ends.
    _go(browser, browser.find_element(By.CSS_SELECTOR, ".who button"))
    assert "/ui/login" in browser.current_url
    browser.get(f"{url}/ui/")
    assert "/ui/login" in browser.current_url

    # A writer acknowledges and silences from the trigger's page.
    _login(browser, url, WRITE_TOKEN, f"/ui/triggers/{seq}")
    browser.find_element(By.ID, "ack-note").send_keys("looking into it")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "#ack-form button"))
    assert "Acknowledged: recorded as entry" in browser.find_element(By.CSS_SELECTOR, ".done").text
    with w.store.read() as conn:
        alert = next(
            a for a in reads.current_alerts(conn, ("firing",))
            if (a.threshold, a.subject) == ("lab.ctf.high", "acme/m4")
        )  # fmt: skip
        ack = reads.alert_entries(conn, "lab.ctf.high", "acme/m4", after=seq)
    assert (alert.acked_by, alert.ack_note) == ("alice", "looking into it")
    assert [(a.body["actor"], a.body["note"]) for a in ack] == [("alice", "looking into it")]
    assert "alice" in browser.find_element(By.CSS_SELECTOR, "strong.actor").text
    Select(browser.find_element(By.ID, "sil-duration")).select_by_visible_text("1d")
    browser.find_element(By.ID, "sil-comment").send_keys("under review")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "#silence-form button"))
    assert "Silence" in browser.find_element(By.CSS_SELECTOR, ".done").text
    with w.store.read() as conn:
        made = [
            r.silence
            for r in actions.list_silences(conn, w.clock())
            if r.silence.comment == "under review"
        ]
    assert [(s.created_by, s.matchers.match) for s in made] == [
        ("alice", {"threshold": "lab.ctf.high", "subject": "acme/m4"})
    ]

    # Every page at laptop and phone width: no sideways scrolling on a phone; screenshots.
    pages = {
        "overview": "/ui/",
        "triggers": "/ui/triggers",
        "trigger": f"/ui/triggers/{seq}/replay",
        "catalog": "/ui/catalog",
        "forecasts": "/ui/forecasts",
        "feeds": "/ui/feeds",
    }
    for name, path in pages.items():
        for device, size, mobile in (("laptop", LAPTOP, False), ("phone", PHONE, True)):
            _size(browser, size, mobile)
            browser.get(url + path)
            wide, inner = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert wide <= inner, f"{name} at {device}: {wide} px wide in {inner} px"
            _shot(browser, shots, f"{name}-{device}")
    browser.delete_all_cookies()
    browser.get(f"{url}/ui/login")
    _shot(browser, shots, "login-phone")
    _size(browser, LAPTOP, False)
    assert len(list(shots.glob("*.png"))) == 13
