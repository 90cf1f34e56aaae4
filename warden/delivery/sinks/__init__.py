"""Sinks: destinations for alerts, found through the `warden.sinks` entry points.

A sink gets a `Notification` and either returns (delivered) or raises `DeliveryError`
(`permanent=True` stops the retries).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from warden.core.notification import Notification


class Sink(Protocol):
    type: ClassVar[str]
    id: str

    def send(self, notification: Notification) -> None: ...
