"""The webhook sink on its own, against a loopback receiver, with real triggers of every kind:
the documented payload, its headers and signature, and which answers are retried and which are
final. Through the dispatcher: tests/delivery/test_dispatch.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.receiver import Receiver, receiver
from tests.support.triggers import KINDS
from warden import __version__
from warden.core.errors import ConfigError, DeliveryError
from warden.core.notification import PAYLOAD_VERSION, Notification, summary
from warden.delivery.sinks.webhook import WebhookSink, signature


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_trigger_arrives_as_the_documented_payload(
    kind: str, notifications: dict[str, Notification], hook: Receiver
) -> None:
    n = notifications[kind]
    WebhookSink("hook", {"url": hook.url}).send(n)
    (got,) = hook.wait_for(1)
    body = got.json()
    assert set(body) == {"version", "idempotency_key", "status", "summary", "basis", "trigger"}
    assert body["version"] == PAYLOAD_VERSION
    assert body["idempotency_key"] == n.idempotency_key
    assert body["status"] == n.trigger["to"] and body["summary"] == summary(n.trigger)
    assert body["trigger"] == {"seq": n.trigger_seq, "hash": n.trigger_hash, **n.trigger}
    assert got.body == n.body()  # the bytes the signature is over
    assert got.headers["Idempotency-Key"] == n.idempotency_key
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == f"warden/{__version__}"
    assert "X-Warden-Signature" not in got.headers


def test_with_a_secret_the_body_is_signed(
    notifications: dict[str, Notification], hook: Receiver
) -> None:
    n = notifications["firing"]
    WebhookSink("hook", {"url": hook.url, "secret": "s3cret"}).send(n)
    (got,) = hook.wait_for(1)
    assert got.headers["X-Warden-Signature"] == signature("s3cret", got.body)
    assert signature("s3cret", got.body) != signature("other", got.body)


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (429, False), (408, False), (404, True), (400, True),
     (301, True), (307, True)],
)  # fmt: skip
def test_server_errors_are_retried_and_other_refusals_are_final(
    status: int, permanent: bool, notifications: dict[str, Notification], hook: Receiver
) -> None:
    hook.statuses.append(status)
    with pytest.raises(DeliveryError) as err:
        WebhookSink("hook", {"url": hook.url}).send(notifications["firing"])
    assert err.value.permanent is permanent
    assert f"HTTP {status}" in str(err.value)


def test_an_unreachable_receiver_is_retried(notifications: dict[str, Notification]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        WebhookSink("hook", {"url": f"http://127.0.0.1:{port}/", "timeout_seconds": 2}).send(
            notifications["firing"]
        )
    assert err.value.permanent is False


@pytest.mark.parametrize(
    "options",
    [{}, {"url": "not a url"}, {"url": "http://x/", "timeout_seconds": 0}, {"url": "http://x/",
                                                                           "extra": 1}],
)  # fmt: skip
def test_bad_options_are_config_errors_naming_the_sink(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as err:
        WebhookSink("hook", options)
    assert "sinks.hook" in str(err.value)


def test_the_payload_is_compact_sorted_json(notifications: dict[str, Notification]) -> None:
    body = notifications["firing"].body()
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
