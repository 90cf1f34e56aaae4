"""The e-mail sink against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS with a
certificate made for the test by `openssl`, AUTH, refusals; and the message itself."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.factories import T0, threshold
from tests.support.triggers import KINDS, MITIGATIONS, RUNBOOK, SOURCE_URL
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog
from warden.core.errors import ConfigError, DeliveryError
from warden.core.model import Observation
from warden.core.notification import Notification
from warden.delivery.dispatch import Dispatcher
from warden.delivery.settings import DispatchSettings
from warden.delivery.sinks.email import EmailSink
from warden.delivery.sinks.render import view
from warden.store import Store
from warden.store import observations as obs_rows

USER, PASSWORD = "warden", "s3cret-pw"
SENDER = "Warden <warden@example.org>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: bytes | None


@dataclass
class Handler:
    """Keeps every message; refuses the recipients in `refuse` with their reply."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message,
                session.ssl is not None,
                login,
            )
        )
        return "250 Message accepted"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    handler: Handler
    port: int
    cert: Path | None = None


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return crt, key


def _serve(**smtp: Any) -> Iterator[Server]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp)
    controller.start()
    try:
        yield Server(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def plain() -> Iterator[Server]:
    """No STARTTLS, no AUTH."""
    yield from _serve()


@pytest.fixture
def secure(cert: tuple[Path, Path]) -> Iterator[Server]:
    """STARTTLS required before anything, and AUTH (only over TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    for server in _serve(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    ):
        server.cert = cert[0]
        yield server


def sink(server: Server, **options: Any) -> EmailSink:
    raw = {"host": "127.0.0.1", "port": server.port, "from": SENDER}
    raw["to"] = ["oncall@example.org", "Safety Team <safety@example.org>"]
    return EmailSink("mail", {**raw, **options})


def parts(message: EmailMessage) -> tuple[str, str]:
    plain_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert isinstance(plain_part, EmailMessage) and isinstance(html_part, EmailMessage)
    return plain_part.get_content(), html_part.get_content()


def test_a_firing_alert_arrives_with_both_parts_carrying_the_same_facts(
    plain: Server, notifications: dict[str, Notification]
) -> None:
    n = notifications["firing"]
    sink(plain).send(n)
    (got,) = plain.handler.received
    m = got.message
    assert got.mail_from == "warden@example.org"
    assert got.rcpt_tos == ["oncall@example.org", "safety@example.org"]
    assert m["Subject"] == view(n).summary
    assert m["Message-ID"] == f"<{n.idempotency_key}@example.org>"
    assert m["X-Warden-Idempotency-Key"] == n.idempotency_key
    assert m["X-Warden-Status"] == "firing" and m["X-Warden-Subject"] == "acme/m1"
    assert m["Date"] == "Sun, 02 Mar 2025 09:30:00 +0000"
    assert m.get_content_type() == "multipart/alternative"
    text, html = parts(m)
    for fact in (
        "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger >= 0.5, warning >= 0.4)",
        "inactive -> firing",
        "Severity:   critical",
        "Safeguards: ASL-3, SL-3",
        f"Runbook: {RUNBOOK}",
        f"Evidence: {SOURCE_URL}",
        *MITIGATIONS,
    ):
        assert fact in text
    for fact in (
        "cyber_ctf accuracy = 0.8 ± 0.05 (n=200) (trigger &gt;= 0.5, warning &gt;= 0.4)",
        "inactive -&gt; firing",
        "Pause external deployment &amp; notify the &lt;board&gt; within 24h",
        '<a href="https://example.org/runbooks/cyber?team=red&amp;step=1">Runbook</a>',
        '<a href="https://evals.example.org/runs/cyber-ctf/run-1.json?x=1&amp;y=&lt;2&gt;">',
        "<h2>FIRING: Cyber uplift: most CTF challenges &lt;solved&gt; &amp; reported",
    ):
        assert fact in html
    assert "<board>" not in html and "<solved>" not in html


def test_a_resent_alert_is_the_same_message_and_an_alert_s_mails_are_one_thread(
    plain: Server, notifications: dict[str, Notification]
) -> None:
    s = sink(plain)
    for kind in ("minimal", "minimal", "nodata", "firing"):
        s.send(notifications[kind])
    first, again, nodata, other = (r.message for r in plain.handler.received)
    assert first["Message-ID"] == again["Message-ID"] != nodata["Message-ID"]
    assert first["References"] == nodata["References"] != other["References"]
    text, _ = parts(nodata)
    assert "NOT resolved" in text
    assert "Acknowledged by alice at 2025-03-02 09:30:00 UTC: looking into it" in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_delivered(
    plain: Server, notifications: dict[str, Notification], kind: str
) -> None:
    n = notifications[kind]
    sink(plain).send(n)
    (got,) = plain.handler.received
    text, html = parts(got.message)
    a = view(n)
    assert got.message["Subject"] == a.summary
    assert a.headline in text and a.measurements[0].text in text
    assert "<h2>" in html and a.status_text in html


def test_starttls_with_a_verified_certificate_then_auth(
    secure: Server, notifications: dict[str, Notification]
) -> None:
    assert secure.cert is not None
    s = sink(secure, username=USER, password=PASSWORD, ca_file=str(secure.cert))
    s.send(notifications["firing"])
    (got,) = secure.handler.received
    assert got.tls and got.login == USER.encode()
    strict = sink(
        secure, tls="starttls", username=USER, password=PASSWORD, ca_file=str(secure.cert)
    )
    strict.send(notifications["resolved"])
    assert len(secure.handler.received) == 2


def test_a_wrong_password_is_permanent(
    secure: Server, notifications: dict[str, Notification]
) -> None:
    assert secure.cert is not None
    s = sink(secure, username=USER, password="wrong", ca_file=str(secure.cert))
    with pytest.raises(DeliveryError) as caught:
        s.send(notifications["firing"])
    assert caught.value.permanent and "login refused 535" in caught.value.why
    assert "wrong" not in str(caught.value)


def test_an_untrusted_certificate_is_permanent(
    secure: Server, notifications: dict[str, Notification]
) -> None:
    with pytest.raises(DeliveryError) as caught:
        sink(secure, username=USER, password=PASSWORD).send(notifications["firing"])
    assert caught.value.permanent and "TLS certificate of 127.0.0.1 not trusted" in str(
        caught.value
    )
    assert secure.handler.received == []


def test_no_starttls_on_offer(plain: Server, notifications: dict[str, Notification]) -> None:
    with pytest.raises(DeliveryError) as caught:
        sink(plain, tls="starttls").send(notifications["firing"])
    assert caught.value.permanent and "does not offer STARTTLS" in caught.value.why
    with pytest.raises(DeliveryError) as caught:
        sink(plain, username=USER, password=PASSWORD).send(notifications["firing"])
    assert caught.value.permanent and "password is not sent unencrypted" in caught.value.why
    assert plain.handler.received == []


def test_refused_recipients(plain: Server, notifications: dict[str, Notification]) -> None:
    plain.handler.refuse = {"safety@example.org": "550 5.1.1 no such user"}
    with pytest.raises(DeliveryError) as caught:
        sink(plain).send(notifications["firing"])
    assert caught.value.permanent  # the other recipient has it; retrying cannot help
    assert "recipients refused: safety@example.org (550)" in caught.value.why
    assert [r.rcpt_tos for r in plain.handler.received] == [["oncall@example.org"]]
    plain.handler.refuse = {"safety@example.org": "451 4.3.0 try later"}
    with pytest.raises(DeliveryError) as caught:
        sink(plain).send(notifications["firing"])
    assert not caught.value.permanent and "(451)" in caught.value.why
    plain.handler.refuse = {a: "550 no" for a in ("oncall@example.org", "safety@example.org")}
    with pytest.raises(DeliveryError) as caught:
        sink(plain).send(notifications["firing"])
    assert caught.value.permanent and len(plain.handler.received) == 2


def test_an_unreachable_server_is_retried(notifications: dict[str, Notification]) -> None:
    s = EmailSink(
        "mail",
        {"host": "127.0.0.1", "port": free_port(), "from": SENDER, "to": ["a@example.org"]},
    )
    with pytest.raises(DeliveryError) as caught:
        s.send(notifications["firing"])
    assert not caught.value.permanent and "ConnectionRefusedError" in caught.value.why


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"to": []}, "options.to: List should have at least 1 item"),
        ({"to": ["nobody"]}, "not an e-mail address"),
        ({"from": "a@b.org\r\nBcc: x@y.org"}, "cannot hold a line break"),
        ({"username": "u"}, "username and password: give both, or neither"),
        ({"password": "pw-SECRET"}, "username and password: give both, or neither"),
        ({"tls": "sometimes"}, "options.tls"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file: /nonexistent/ca.pem is not a file"),
        ({"sender": "a@b.org"}, "options.sender: unknown key"),
        ({"port": 0}, "options.port"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], message: str) -> None:
    raw = {"host": "mail.example.org", "from": SENDER, "to": ["a@example.org"], **options}
    with pytest.raises(ConfigError) as caught:
        EmailSink("mail", raw)
    assert message in str(caught.value) and "SECRET" not in str(caught.value)


def test_through_the_dispatcher_from_a_real_cycle(store: Store, plain: Server) -> None:
    row = Observation("m", "bench", "acc", 0.9, T0, "k", "src", "0" * 64)
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [row], T0)
    run_cycle(store, Catalog((threshold(),)), ["mail"], lambda: T0)
    settings = DispatchSettings(max_attempts=3)
    assert Dispatcher(store, {"mail": sink(plain)}, settings, lambda: T0).run_once() == 1
    (got,) = plain.handler.received
    assert got.message["Subject"].startswith("[FIRING] test.bench.high (m): Test threshold")
