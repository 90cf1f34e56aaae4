"""Who may see and do what in the web view, over loopback HTTP against a real daemon: without a
session a page redirects to the login form and shows nothing; a wrong token is refused (401) and
counted; the session cookie is HttpOnly and SameSite=Strict and holds no token; logging out ends
it; a form without its CSRF token or from another site is refused, as is a reader's; a writer's
acknowledgement is recorded under the token's name; `http.public_read` opens reading but not
acting; a bearer header works as for the API; the export is signed and verifies."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import requests

from tests.interfaces.ui.conftest import Served, daemon
from tests.support.server import serving
from tests.support.varied_run import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN
from warden.interfaces.api.ui.sessions import safe_next
from warden.store import reads
from warden.triggerlog.export import verify_export
from warden.triggerlog.keys import load_key


def _session(url: str, token: str) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{url}/ui/login", data={"token": token, "next": "/ui/"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    return s


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def _firing_seq(served: Served) -> int:
    with served.warden.store.read() as conn:
        alert = next(
            a for a in reads.current_alerts(conn, ("firing",))
            if (a.threshold, a.subject) == ("lab.ctf.high", "acme/m4")
        )  # fmt: skip
    assert alert.last_trigger is not None
    return alert.last_trigger


def test_without_a_session_nothing_is_shown(served: Served) -> None:
    url = served.url
    for path in ("/ui/", "/ui/triggers", "/ui/triggers/3", "/ui/triggers/3/replay", "/ui/catalog",
                 "/ui/forecasts", "/ui/feeds", "/ui/export"):  # fmt: skip
        r = requests.get(url + path, allow_redirects=False, timeout=10)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/ui/login?next=%2Fui%2F")
        assert "acme" not in r.text and "lab." not in r.text
        assert r.headers["cache-control"] == "no-store"
    wrong = requests.get(f"{url}/ui/", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "acme" not in wrong.text
    failed = requests.post(f"{url}/ui/login", data={"token": "nope"}, timeout=10)
    assert failed.status_code == 401 and "set-cookie" not in failed.headers
    assert "missing or wrong bearer token" in failed.text
    counted = served.warden.metrics.registry.get_sample_value("warden_http_auth_failures_total")
    assert counted == 2
    # A form POST without a session is refused, not acted on.
    r = requests.post(f"{url}/ui/triggers/3/ack", data={"note": "x"}, allow_redirects=False,
                      timeout=10)  # fmt: skip
    assert r.status_code == 401


def test_session_cookie_csrf_and_logout(served: Served) -> None:
    url = served.url
    s = _session(url, READ_TOKEN)
    cookie = next(c for c in s.cookies)
    assert cookie.name == "warden_session" and READ_TOKEN not in cookie.value
    assert cookie.path == "/ui" and cookie.has_nonstandard_attr("HttpOnly")
    raw = requests.post(f"{url}/ui/login", data={"token": READ_TOKEN}, allow_redirects=False,
                        timeout=10).headers["set-cookie"]  # fmt: skip
    assert "HttpOnly" in raw and "SameSite=strict" in raw and READ_TOKEN not in raw
    overview = s.get(f"{url}/ui/", timeout=10)
    assert overview.status_code == 200 and "acme/m4" in overview.text
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    seq = _firing_seq(served)
    # A reader cannot acknowledge, even with the right CSRF token.
    page = s.get(f"{url}/ui/triggers/{seq}", timeout=10).text
    assert 'id="ack-form"' not in page
    r = s.post(f"{url}/ui/triggers/{seq}/ack", data={"csrf": _csrf(page), "note": "x"},
               allow_redirects=False, timeout=10)  # fmt: skip
    assert r.status_code == 403 and "needs a write token" in r.text
    # Log out: the old cookie opens nothing any more.
    old = dict(s.cookies)
    r = s.post(f"{url}/ui/logout", data={"csrf": _csrf(page)}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    again = requests.get(f"{url}/ui/", cookies=old, allow_redirects=False, timeout=10)
    assert again.status_code == 303
    # After logging in, only a path of the web view is followed.
    assert safe_next("https://evil.example/") == "/ui/" and safe_next("//evil/ui/") == "/ui/"
    assert safe_next("/ui/triggers?kind=ack") == "/ui/triggers?kind=ack"


def test_a_writer_acknowledges_under_the_token_name(served: Served) -> None:
    url = served.url
    s = _session(url, WRITE_TOKEN)
    seq = _firing_seq(served)
    page = s.get(f"{url}/ui/triggers/{seq}", timeout=10).text
    assert 'id="ack-form"' in page
    token = _csrf(page)
    forged = s.post(f"{url}/ui/triggers/{seq}/ack", data={"note": "x"}, allow_redirects=False,
                    timeout=10)  # fmt: skip
    assert forged.status_code == 403 and "CSRF" in forged.text
    elsewhere = s.post(f"{url}/ui/triggers/{seq}/ack", data={"csrf": token, "note": "x"},
                       headers={"Origin": "https://evil.example"}, allow_redirects=False,
                       timeout=10)  # fmt: skip
    assert elsewhere.status_code == 403 and "another site" in elsewhere.text
    named = s.post(f"{url}/ui/triggers/{seq}/ack", data={"csrf": token, "by": "mallory"},
                   allow_redirects=False, timeout=10)  # fmt: skip
    assert named.status_code == 422 and "alice" in named.text  # no acting under another name
    with served.warden.store.read() as conn:
        assert not reads.alert_entries(conn, "lab.ctf.high", "acme/m4", after=seq)
    done = s.post(f"{url}/ui/triggers/{seq}/ack", data={"csrf": token, "note": "on it"},
                  allow_redirects=False, timeout=10)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"].startswith(
        f"/ui/triggers/{seq}?done=ack-"
    )
    with served.warden.store.read() as conn:
        [ack] = reads.alert_entries(conn, "lab.ctf.high", "acme/m4", after=seq)
        alert = next(a for a in reads.current_alerts(conn, ("firing",)) if a.subject == "acme/m4"
                     and a.threshold == "lab.ctf.high")  # fmt: skip
    assert (ack.body["actor"], ack.body["note"]) == ("alice", "on it")
    assert alert.acked_by == "alice"
    bad = s.post(f"{url}/ui/triggers/{seq}/silence", data={"csrf": token, "duration": "9y",
                 "comment": "x"}, allow_redirects=False, timeout=10)  # fmt: skip
    assert bad.status_code == 422 and "duration" in bad.text


def test_bearer_header_and_signed_export(served: Served) -> None:
    url = served.url
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    r = requests.get(f"{url}/ui/triggers?kind=ack", headers=admin, timeout=10)
    assert r.status_code == 200 and "alice acknowledged" in r.text
    got = requests.get(f"{url}/ui/export?kind=transition", headers=admin, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        names = sorted(z.namelist())
        assert names[1] == names[0] + ".sig"
        data, sig = z.read(names[0]), z.read(names[1])
    verified = verify_export(data, sig, load_key(served.public_key, "public key"))
    assert verified.filters.kinds == ("transition",) and verified.entries > 10
    missing = requests.get(f"{url}/ui/triggers/99999", headers=admin, timeout=10)
    assert missing.status_code == 404 and "no such entry" in missing.text
    bad = requests.get(f"{url}/ui/triggers?since=yesterday", headers=admin, timeout=10)
    assert bad.status_code == 422 and "since" in bad.text


def test_public_read_opens_reading_not_acting(tmp_path: Path, db_url: str) -> None:
    w, _ = daemon(tmp_path, db_url, public_read=True)
    with serving(w) as url:
        for path in ("/ui/", "/ui/triggers", "/ui/catalog", "/ui/feeds", "/ui/forecasts"):
            r = requests.get(url + path, allow_redirects=False, timeout=10)
            assert r.status_code == 200, path
        assert "public reading" in r.text and 'name="csrf"' not in r.text
        r = requests.post(f"{url}/ui/triggers/3/ack", data={"note": "x"}, allow_redirects=False,
                          timeout=10)  # fmt: skip
        assert r.status_code == 403 and "write token" in r.text
