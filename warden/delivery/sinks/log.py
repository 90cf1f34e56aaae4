"""The log sink: one JSON line per alert, to stdout or appended to a file."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from warden.core.errors import DeliveryError
from warden.core.notification import Notification
from warden.core.plugins import options


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None = None


class LogSink:
    type: ClassVar[str] = "log"

    def __init__(self, sink_id: str, raw_options: Mapping[str, Any]) -> None:
        self.id = sink_id
        self.options = options(Options, raw_options, f"sinks.{sink_id}")
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        line = notification.body().decode() + "\n"
        try:
            with self._lock:
                if self.options.path is None:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    self.options.path.parent.mkdir(parents=True, exist_ok=True)
                    with self.options.path.open("a", encoding="utf-8") as fp:
                        fp.write(line)
        except OSError as exc:
            raise DeliveryError(self.id, f"cannot write: {exc}") from exc
