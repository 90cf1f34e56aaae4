"""warden/core/redact.py: URLs, and strings that were meant to be URLs, without their secrets."""

from __future__ import annotations

import pytest

from warden.core.redact import redact, redact_loose, redact_text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "https://user:pw@example.org/x?token=abc&page=2",
            "https://example.org/x?token=***&page=2",
        ),
        ("htp://user:pw@example.org/x.csv?token=abc", "htp://example.org/x.csv?token=***"),
        ("htp:/user:pw@example.org/x.csv", "htp:/example.org/x.csv"),  # as a Path prints it
        ("notaurl?token=abc", "notaurl?token=***"),
        ("u:p@host/x", "host/x"),
        ("data#sig=abc", "data#sig=***"),
        ("https://user:pw@exa mple.org/x?key=abc", "https://exa mple.org/x?key=***"),
        ("/data/plain/path", "/data/plain/path"),
        ("https://example.org/ok?a=1", "https://example.org/ok?a=1"),
    ],
)
def test_redact_loose_hides_user_info_and_secret_values(given: str, shown: str) -> None:
    assert redact_loose(given) == shown


def test_a_url_without_secrets_is_kept_as_written() -> None:
    url = "https://example.org/a%20b?x=1#top"
    assert redact(url) == url == redact_loose(url)


def test_redact_text_hides_every_url_in_a_message() -> None:
    text = "POST https://h.example/x?token=abc failed; retry http://u:p@h/y"
    assert redact_text(text) == "POST https://h.example/x?token=*** failed; retry http://h/y"
