"""The webhook sink: POST the JSON payload.

Headers: `Idempotency-Key` (stable per trigger and sink, so a receiver can drop repeats) and,
when a secret is set, `X-Warden-Signature: sha256=<hex HMAC-SHA256 of the body>`.
2xx is delivered; 408, 429, 5xx and connection errors are retried; 3xx and other 4xx are permanent
failures.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from warden import __version__
from warden.core.errors import DeliveryError
from warden.core.notification import Notification
from warden.core.plugins import options


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    type: ClassVar[str] = "webhook"

    def __init__(self, sink_id: str, raw_options: Mapping[str, Any]) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")
        self._session = requests.Session()

    def send(self, notification: Notification) -> None:
        body = notification.body()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"warden/{__version__}",
            "Idempotency-Key": notification.idempotency_key,
        }
        if self.options.secret is not None:
            headers["X-Warden-Signature"] = signature(self.options.secret.get_secret_value(), body)
        try:
            response = self._session.post(
                str(self.options.url),
                data=body,
                headers=headers,
                timeout=self.options.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryError(self.id, f"{type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        # Redirects are not followed (the URL is configuration): a 3xx is as final as a 4xx.
        permanent = 300 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise DeliveryError(
            self.id, f"HTTP {response.status_code} from the receiver", permanent=permanent
        )
