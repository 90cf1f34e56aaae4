"""URLs without their secrets: what warden shows, logs and stores of a URL (`redact`), and a
filter keeping secret query values out of urllib3's debug lines (installed on import, which
warden.ingest.http does).

A secret is the user info of a URL (a password, or a token given as the user name) and the value
of a query or fragment parameter whose name looks secret (key, token, secret, password, auth,
sig, credential). A URL without one is returned exactly as written, so sources and cursor keys
saved before redaction still match.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

_SECRET_KEY = re.compile(r"key|token|secret|passw|auth|sig|credential", re.IGNORECASE)


def redact(url: str) -> str:
    """`url` without its user info (a password, or a token given as the user name) and with the
    values of secret-looking query parameters hidden: the URL to show, log and store. Everything
    else is kept as written, so a URL without secrets is returned unchanged (sources and cursor
    keys stay what they were)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an invalid URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query, fragment = _hide_secrets(parts.query), _hide_secrets(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()]+")
_TARGET_IN_TEXT = re.compile(r"(url: )(/[^\s'\"<>()]*)")


def redact_text(text: str) -> str:
    """`text` (an error message, a log line) with every URL in it redacted, and the request
    targets urllib3 names (`... with url: /hook?token=... (Caused by ...)`) too: what a delivery
    error may store, log and put in the trigger log."""
    text = _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)
    return _TARGET_IN_TEXT.sub(lambda m: m.group(1) + _hide_in(m.group(2)), text)


_USERINFO = re.compile(r"\A([a-zA-Z][a-zA-Z0-9+.-]*:/+)?[^/?#@\s]*@")


def redact_loose(value: str) -> str:
    """`value`, a string a user gave where a URL or a path was expected (possibly neither, or
    malformed: `htp://user:pw@host/x?token=...`, `notaurl?token=...`), without what may be a
    secret: the user info before an `@` and the values of secret-looking query and fragment
    parameters. What a config error may echo."""
    if "://" in value:
        redacted = redact(value)
        if redacted != value or "@" not in value:
            return redacted
    value = _USERINFO.sub(lambda m: m.group(1) or "", value, count=1)
    head, qmark, rest = value.partition("?")
    query, hash_, fragment = rest.partition("#")
    if qmark:
        value = head + "?" + _hide_secrets(query) + (hash_ + _hide_secrets(fragment))
    elif "#" in head:
        head, hash_, fragment = head.partition("#")
        value = head + hash_ + _hide_secrets(fragment)
    return value


def _hide_secrets(query: str) -> str:
    """`query` (`a=1&token=x`) with the values of secret-looking keys replaced by `***`."""
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        key, sep, value = pair.partition("=")
        if sep and value and _SECRET_KEY.search(unquote_plus(key)):
            pairs[i] = f"{key}=***"
    return "&".join(pairs)


class _HideSecrets(logging.Filter):
    """Hides secret query values in urllib3's debug lines, which name each request's target
    (`"GET /data.zip?token=... HTTP/1.1" 200`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_hide_in(a) if isinstance(a, str) else a for a in record.args)
        return True


def _hide_in(text: str) -> str:
    """A URL redacted, a request target (`/path?query`) with its secret values hidden."""
    if "://" in text:
        return redact(text)
    path, mark, query = text.partition("?")
    return f"{path}?{_hide_secrets(query)}" if mark else text


logging.getLogger("urllib3.connectionpool").addFilter(_HideSecrets())
