"""The e-mail sink: one message per alert over SMTP, with a plain-text and an HTML part that
carry the same facts (warden/sinks/render.py).

- Transport: `tls: auto` upgrades with STARTTLS when the server offers it; `starttls` requires
  it (a server that does not offer it is a permanent failure: a downgrade is not followed);
  `implicit` is SMTPS (port 465); `none` never encrypts. Certificates are verified, against
  `ca_file` when given. `username` and `password` log in after the upgrade; the password is never
  sent over an unencrypted connection unless `tls: none` says so.
- Body: the facts of warden/sinks/render.py, with what the threshold's level rests on (a
  framework's number or a proxy chosen by the catalog) and the threshold's sources.
- Headers: `Subject` is the summary line; `Message-ID` is `<idempotency key@sender's domain>`,
  so a re-sent alert is recognisably the same message; `References` names one id per threshold x
  subject, so mail readers thread an alert's firing, repeats and resolution; `Date` is the
  trigger's time; `X-Warden-*` carry the key, status, threshold and subject.
- Outcomes: 4xx replies, lost connections and timeouts are retried; 5xx replies, refused
  authentication, certificate failures and missing server features are permanent. When some
  recipients are refused and others accepted, a 4xx refusal is retried (the accepted get the
  same Message-ID again) and a 5xx one is permanent, naming the refused addresses.

Traps: header values must not hold line breaks (titles are folded to one line); the HTML is
escaped, links are made only of http(s) URLs.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from warden import __version__
from warden.core.errors import DeliveryError
from warden.core.notification import Notification, one_line
from warden.core.plugins import options
from warden.delivery.sinks.render import Alert, digest, digest_line, http_url, view


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["auto", "starttls", "implicit", "none"] = "auto"
    ca_file: Path | None = None
    username: str | None = Field(None, min_length=1)
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("sender", "to", mode="after")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            address(item)
        return value

    @model_validator(mode="after")
    def _login(self) -> Options:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password: give both, or neither")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file: {self.ca_file} is not a file")
        return self


def address(value: str) -> str:
    """The addr-spec of `value` ("Name <a@b.org>" or "a@b.org"), or ValueError."""
    if "\r" in value or "\n" in value:
        raise ValueError("an e-mail address cannot hold a line break")
    _, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr:
        raise ValueError(f"not an e-mail address: {value!r}")
    return addr


def _domain(sender: str) -> str:
    domain = address(sender).rpartition("@")[2]
    return "".join(c for c in domain if c.isalnum() or c in ".-") or "warden.invalid"


def text_body(a: Alert) -> str:
    lines = [a.headline, "", a.meaning, ""]
    lines += [
        f"Threshold:  {a.title} ({a.threshold})",
        f"Subject:    {a.subject_text}",
        f"State:      {a.change}",
        f"Severity:   {a.severity}    Level: {a.level}    Domain: {a.domain}",
        f"At:         {a.at}",
        "",
    ]
    if a.measurements:
        lines += ["Value vs levels:", *(f"  - {m.text}" for m in a.measurements), ""]
    if a.basis:
        lines += [f"Threshold basis: {a.basis}", *(f"  - {n}" for n in a.basis_notes)]
        lines += ["Sources:", *(f"  - {t} <{u}>" if u else f"  - {t}" for t, u in a.sources), ""]
    if a.reason:
        lines += [f"Why: {a.reason}", ""]
    if a.acknowledged:
        lines += [f"Acknowledged {a.acknowledged}", ""]
    if a.mitigations:
        lines += ["Required mitigations:", *(f"  - {m}" for m in a.mitigations), ""]
    if a.safeguards:
        lines += [f"Safeguards: {', '.join(a.safeguards)}", ""]
    lines += [f"{k}: {v}" for k, v in a.annotations] + ([""] if a.annotations else [])
    if a.runbook:
        lines += [f"Runbook: {a.runbook}"]
    if a.evidence_url:
        lines += [f"Evidence: {a.evidence_url}"]
    if a.evidence:
        lines += ["", "Evidence:"]
        lines += [f"  - {e.text} ({e.feed}: {e.source})" for e in a.evidence]
    lines += ["", f"warden trigger #{a.seq}, hash {a.hash}", f"threshold version {a.version}"]
    return "\n".join(lines) + "\n"


def _a(url: str | None, label: str) -> str:
    if url is None:
        return html.escape(label)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def html_body(a: Alert) -> str:
    e = html.escape
    rows = [
        ("Threshold", f"{e(a.title)} (<code>{e(a.threshold)}</code>)"),
        ("Subject", e(a.subject_text)),
        ("State", e(a.change)),
        ("Severity", e(a.severity)),
        ("Level", e(a.level)),
        ("Domain", e(a.domain)),
        ("At", e(a.at)),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body>',
        f"<h2>{e(a.headline)}</h2>",
        f"<p><strong>{e(a.meaning)}</strong></p>",
        "<table>",
        *(f"<tr><th align='left'>{k}</th><td>{v}</td></tr>" for k, v in rows),
        "</table>",
    ]

    def listing(title: str, items: list[str]) -> None:
        if items:
            parts.append(f"<h3>{title}</h3><ul>")
            parts.extend(f"<li>{i}</li>" for i in items)
            parts.append("</ul>")

    listing("Value vs levels", [e(m.text) for m in a.measurements])
    if a.basis:
        parts.append(f"<p><strong>Threshold basis:</strong> {e(a.basis)}</p>")
        listing("Basis of each number", [e(n) for n in a.basis_notes])
        listing("Sources", [_a(http_url(u), t) for t, u in a.sources])
    if a.reason:
        parts.append(f"<p><strong>Why:</strong> {e(a.reason)}</p>")
    if a.acknowledged:
        parts.append(f"<p><strong>Acknowledged</strong> {e(a.acknowledged)}</p>")
    listing("Required mitigations", [e(m) for m in a.mitigations])
    if a.safeguards:
        parts.append(f"<p><strong>Safeguards:</strong> {e(', '.join(a.safeguards))}</p>")
    for k, v in a.annotations:
        parts.append(f"<p><strong>{e(k)}:</strong> {e(v)}</p>")
    links = [_a(u, name) for name, u in (("Runbook", a.runbook), ("Evidence", a.evidence_url)) if u]
    if links:
        parts.append("<p>" + " | ".join(links) + "</p>")
    listing(
        "Evidence",
        [f"{e(x.text)} ({e(x.feed)}: {_a(x.url, x.source)})" for x in a.evidence],
    )
    parts += [
        f"<p><small>warden trigger #{a.seq}, hash <code>{e(a.hash)}</code>; threshold version "
        f"<code>{e(a.version)}</code></small></p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def digest_bodies(n: Notification) -> tuple[str, str, str]:
    """The subject, text and HTML of a grouped notification: its summary and one line per
    alert (the most urgent first; the rest counted)."""
    headline, shown, more = digest(n)
    intro = (
        "What warden found already true when it started watching (a feed's first run, a "
        "backfill, a threshold added): history, not a change. Each alert is in the trigger log."
        if n.history
        else "These alerts changed together:"
    )
    lines = [headline, "", intro, "", *(f"  - {digest_line(a)}" for a in shown)]
    if more:
        lines.append(f"  ... and {more} more")
    seqs = [m.seq for m in n.alerts()]
    lines += ["", f"warden triggers #{min(seqs)} to #{max(seqs)}"]
    e = html.escape
    items = "".join(f"<li>{e(digest_line(a))}</li>" for a in shown)
    html_text = (
        f"<html><body><h2>{e(headline)}</h2><p>{e(intro)}</p><ul>{items}</ul>"
        + (f"<p>... and {more} more</p>" if more else "")
        + f"<p><small>warden triggers #{min(seqs)} to #{max(seqs)}</small></p></body></html>\n"
    )
    return headline, "\n".join(lines) + "\n", html_text


def build(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    """The message for `n` (pure)."""
    if n.grouped:
        return _build_digest(n, sender, to)
    a = view(n)
    domain = _domain(sender)
    thread = hashlib.sha256(f"{a.threshold}\n{a.subject}".encode()).hexdigest()[:32]
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = one_line(a.summary)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = f"<{n.idempotency_key}@{domain}>"
    msg["References"] = f"<alert-{thread}@{domain}>"
    msg["In-Reply-To"] = f"<alert-{thread}@{domain}>"
    with contextlib.suppress(ValueError):  # without a Date, the server adds one
        msg["Date"] = format_datetime(datetime.fromisoformat(a.at_iso))
    msg["X-Warden-Idempotency-Key"] = n.idempotency_key
    msg["X-Warden-Status"] = one_line(a.status)
    msg["X-Warden-Threshold"] = one_line(a.threshold)
    msg["X-Warden-Subject"] = one_line(a.subject)
    msg["X-Mailer"] = f"warden/{__version__}"
    msg.set_content(text_body(a))
    msg.add_alternative(html_body(a), subtype="html")
    return msg


def _build_digest(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    subject, text_part, html_part = digest_bodies(n)
    domain = _domain(sender)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = one_line(subject)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = f"<{n.idempotency_key}@{domain}>"
    msg["X-Warden-Idempotency-Key"] = n.idempotency_key
    msg["X-Warden-Status"] = "history" if n.history else "group"
    msg["X-Mailer"] = f"warden/{__version__}"
    msg.set_content(text_part)
    msg.add_alternative(html_part, subtype="html")
    return msg


class EmailSink:
    type: ClassVar[str] = "email"

    def __init__(self, sink_id: str, raw_options: Mapping[str, Any]) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")

    def message(self, n: Notification) -> EmailMessage:
        return build(n, self.options.sender, self.options.to)

    def send(self, notification: Notification) -> None:
        msg = self.message(notification)
        o = self.options
        try:
            with self._connect() as smtp:
                self._secure(smtp)
                if o.username is not None and o.password is not None:
                    smtp.login(o.username, o.password.get_secret_value())
                refused = smtp.send_message(
                    msg, from_addr=address(o.sender), to_addrs=[address(t) for t in o.to]
                )
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error
            reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            permanent = exc.smtp_code >= 500 or isinstance(exc, smtplib.SMTPAuthenticationError)
            what = "login refused" if isinstance(exc, smtplib.SMTPAuthenticationError) else "reply"
            raise DeliveryError(
                self.id, f"SMTP {what} {exc.smtp_code} {reply}".strip(), permanent=permanent
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(self.id, f"SMTP server: {exc}", permanent=True) from exc
        except ssl.SSLCertVerificationError as exc:
            why = f"TLS certificate of {o.host} not trusted: {exc.verify_message or exc}"
            raise DeliveryError(self.id, why, permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(self.id, f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise self._refused(refused)

    def _refused(self, refused: Mapping[str, tuple[int, bytes]]) -> DeliveryError:
        codes = {addr: code for addr, (code, _) in refused.items()}
        shown = ", ".join(f"{addr} ({code})" for addr, code in sorted(codes.items()))
        permanent = all(code >= 500 for code in codes.values())
        return DeliveryError(self.id, f"recipients refused: {shown}", permanent=permanent)

    def _context(self) -> ssl.SSLContext:
        ca = self.options.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        if o.tls == "implicit":
            return smtplib.SMTP_SSL(
                o.host, o.port, timeout=o.timeout_seconds, context=self._context()
            )
        return smtplib.SMTP(o.host, o.port, timeout=o.timeout_seconds)

    def _secure(self, smtp: smtplib.SMTP) -> None:
        o = self.options
        if o.tls in ("implicit", "none"):
            return
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self._context())
            smtp.ehlo()
            return
        if o.tls == "starttls":
            why = f"{o.host} does not offer STARTTLS (tls: starttls requires it)"
            raise DeliveryError(self.id, why, permanent=True)
        if o.username is not None:
            why = (
                f"{o.host} does not offer STARTTLS: the password is not sent unencrypted "
                "(set tls: none to allow it)"
            )
            raise DeliveryError(self.id, why, permanent=True)
