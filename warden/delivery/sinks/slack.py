"""The Slack sink: a message to an incoming webhook (Block Kit blocks, plus `text` as the
fallback shown in notifications).

The message says what crossed (threshold title and id, subject), each measurement with its
uncertainty against the trigger and warning levels (in the metric's unit), what the threshold's
level rests on (a framework's number or a proxy chosen by the catalog, with the threshold's
sources as links), the state change, severity, the required
mitigations and safeguards, and links to the runbook and the evidence. Resolved, no-data and
error messages have their own headline, emoji and meaning line.

Traps: the webhook URL is the credential (a secret, never logged: errors name only its host);
mrkdwn needs `&`, `<` and `>` escaped, and a link's URL must not hold `|` or `>`; Block Kit
refuses a message whose header exceeds 150 characters, a section 3000, a field 2000, or with
more than 10 fields or context elements, so every text is cut to its limit. Slack answers 200
`ok`; 400/403/404/410 with a text error (`invalid_blocks`, `channel_not_found`, ...) are
permanent; 429 (with `Retry-After`) and 5xx are retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from warden import __version__
from warden.core.errors import DeliveryError
from warden.core.notification import Notification, group_status
from warden.core.plugins import options
from warden.delivery.sinks.render import Alert, digest, digest_line, http_url, truncate, view

EMOJI = {
    "firing": ":rotating_light:",
    "warning": ":warning:",
    "resolved": ":white_check_mark:",
    "nodata": ":grey_question:",
    "error": ":x:",
}
HEADER_MAX, SECTION_MAX, FIELD_MAX, CONTEXT_MAX, TEXT_MAX = 150, 3000, 2000, 10, 3000
EVIDENCE_SHOWN = 5


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr  # https://hooks.slack.com/services/...: the URL is the credential
    channel: str | None = Field(None, min_length=1)  # honoured by legacy webhooks only
    username: str | None = Field(None, min_length=1)
    icon_emoji: str | None = Field(None, pattern=r"^:[a-z0-9_+-]+:$")
    timeout_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _http_url(self) -> Options:
        # Checked here rather than as a URL type, so an error never echoes the credential.
        if http_url(self.url.get_secret_value()) is None:
            raise ValueError("url: an http(s) URL (the Slack incoming-webhook URL)")
        return self


def mrkdwn(value: str) -> str:
    """`value` as literal text in Slack mrkdwn."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{mrkdwn(label).replace('|', '/')}>"


def fit(value: str, limit: int) -> str:
    """Escaped mrkdwn cut to `limit` characters without breaking an entity or a link."""
    if len(value) <= limit:
        return value
    cut = re.sub(r"&[a-z]{0,3}$", "", value[: limit - 1])
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut + "…"


def _section(body: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(body, SECTION_MAX)}}


def _bullets(items: tuple[str, ...]) -> str:
    return "\n".join(f"• {mrkdwn(i)}" for i in items)


def blocks(a: Alert) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert."""
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{a.status_text}: {a.title}", HEADER_MAX),
                "emoji": True,
            },
        },
        _section(
            f"{EMOJI.get(a.status, ':bell:')} *{mrkdwn(a.subject_text)}*: `{mrkdwn(a.threshold)}`"
            f"\n{mrkdwn(a.meaning)}"
        ),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": fit(f"*{name}*\n{mrkdwn(value)}", FIELD_MAX)}
                for name, value in (
                    ("State", a.change),
                    ("Severity", a.severity),
                    ("Level", a.level),
                    ("Domain", a.domain),
                )
            ],
        },
    ]
    if a.measurements:
        lines = "\n".join(f"• {mrkdwn(m.text)}" for m in a.measurements)
        out.append(_section(f"*Value vs levels*\n{lines}"))
    if a.basis:
        out.append(_section(basis_text(a)))
    if a.reason:
        out.append(_section(f"*Why*\n{mrkdwn(a.reason)}"))
    if a.acknowledged:
        out.append(_section(f"*Acknowledged* {mrkdwn(a.acknowledged)}"))
    if a.mitigations:
        out.append(_section(f"*Required mitigations*\n{_bullets(a.mitigations)}"))
    if a.safeguards:
        out.append(_section(f"*Safeguards*\n{mrkdwn(', '.join(a.safeguards))}"))
    if a.annotations:
        out.append(_section("\n".join(f"*{mrkdwn(k)}*: {mrkdwn(v)}" for k, v in a.annotations)))
    links = [
        link(u, name) for name, u in (("Runbook", a.runbook), ("Evidence", a.evidence_url)) if u
    ]
    if links:
        out.append(_section("  |  ".join(links)))
    if a.evidence:
        shown = [
            {"type": "mrkdwn", "text": fit(_evidence_line(e.text, e.url, e.source), FIELD_MAX)}
            for e in a.evidence[: min(EVIDENCE_SHOWN, CONTEXT_MAX - 1)]
        ]
        more = len(a.evidence) - len(shown)
        if more > 0:
            shown.append({"type": "mrkdwn", "text": f"and {more} more observations"})
        out.append({"type": "context", "elements": shown})
    out.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": fit(
                        f"warden trigger #{a.seq} at {mrkdwn(a.at)} · threshold version "
                        f"`{mrkdwn(a.version[:12])}` · key `{mrkdwn(a.key)}`",
                        FIELD_MAX,
                    ),
                }
            ],
        }
    )
    return out


def basis_text(a: Alert) -> str:
    """What the threshold's level rests on (framework number or proxy), each tagged number's
    note, and the threshold's sources as links."""
    lines = [f"*Threshold basis*: {mrkdwn(a.basis)}", *(f"• {mrkdwn(n)}" for n in a.basis_notes)]
    if a.sources:
        cited = [link(url, title) if http_url(url) else mrkdwn(title) for title, url in a.sources]
        lines.append("*Sources*: " + " · ".join(cited))
    return "\n".join(lines)


def _evidence_line(line: str, url: str | None, source: str) -> str:
    where = link(url, "source") if url else mrkdwn(source)
    return f"{mrkdwn(line)} · {where}" if where else mrkdwn(line)


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text, FIELD_MAX)}]}


def digest_blocks(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and blocks of a grouped notification: its summary, then one line per
    alert (the most urgent first, DIGEST_SHOWN at most, the rest counted)."""
    headline, shown, more = digest(n)
    emoji = ":scroll:" if n.history else EMOJI.get(group_status(n), ":bell:")
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(headline, HEADER_MAX), "emoji": True},
        }
    ]
    if n.history:
        out.append(
            _section(
                "What warden found already true when it started watching (a feed's first "
                "run, a backfill, a threshold added): history, not a change. Each alert is in "
                "the trigger log."
            )
        )
    out += [_section(f"{EMOJI.get(a.status, ':bell:')} {mrkdwn(digest_line(a))}") for a in shown]
    if more:
        out.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more"}]}
        )
    first, last = n.alerts()[0].seq, n.alerts()[-1].seq
    footer = f"warden triggers #{first} to #{last} · key `{mrkdwn(n.idempotency_key)}`"
    out.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(footer, FIELD_MAX)}]}
    )
    return f"{emoji} {headline}", out


def message(n: Notification, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON body posted to the webhook (pure)."""
    if n.grouped:
        fallback, grouped = digest_blocks(n)
        return {"text": fit(mrkdwn(fallback), TEXT_MAX), "blocks": grouped, **(extra or {})}
    a = view(n)
    fallback = f"{EMOJI.get(a.status, ':bell:')} {a.headline}"
    if a.measurements:
        fallback += f": {a.measurements[0].text}"
    return {"text": fit(mrkdwn(fallback), TEXT_MAX), "blocks": blocks(a), **(extra or {})}


class SlackSink:
    type: ClassVar[str] = "slack"

    def __init__(self, sink_id: str, raw_options: Mapping[str, Any]) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")
        self._session = requests.Session()
        o = self.options
        self._extra = {
            k: v
            for k, v in (
                ("channel", o.channel),
                ("username", o.username),
                ("icon_emoji", o.icon_emoji),
            )
            if v is not None
        }

    def message(self, n: Notification) -> dict[str, Any]:
        return message(n, self._extra)

    def send(self, notification: Notification) -> None:
        url = self.options.url.get_secret_value()
        host = urlsplit(url).hostname or "?"
        try:
            response = self._session.post(
                url,
                json=self.message(notification),
                headers={"User-Agent": f"warden/{__version__}"},
                timeout=self.options.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            # The exception's text holds the URL, which is the credential: name the host only.
            raise DeliveryError(self.id, f"{type(exc).__name__} posting to {host}") from exc
        status, body = response.status_code, response.text.strip()[:200]
        if 200 <= status < 300:
            return
        why = f"HTTP {status} from Slack ({host})" + (f": {body}" if body else "")
        if status == 429 and response.headers.get("Retry-After"):
            why += f" (Retry-After {response.headers['Retry-After']} s)"
        permanent = 300 <= status < 500 and status not in (408, 429)
        raise DeliveryError(self.id, why, permanent=permanent)
