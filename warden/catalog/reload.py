"""Catalog hot reload: on SIGHUP or when a catalog or registry file changes, load the catalog
again; if it is invalid, keep the last good one, log every error and report it in
`warden_catalog_last_reload_successful`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from warden.core.errors import ProblemsError
from warden.core.yamlfile import yaml_files

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(paths: list[Path]) -> Fingerprint | str:
    """What the catalog files look like on disk (path, size, mtime), or why they can't be read."""
    try:
        files = yaml_files(paths)
        return tuple((str(f), (st := f.stat()).st_size, st.st_mtime_ns) for f in files)
    except (ProblemsError, OSError) as exc:
        return str(exc)


class CatalogWatch:
    """Polled by a schedule: reloads when asked to (SIGHUP) or when the files changed."""

    def __init__(self, paths: Callable[[], list[Path]], reload: Callable[[], bool]) -> None:
        self._paths = paths
        self._reload = reload
        self._seen = fingerprint(paths())
        self._asked = threading.Event()

    def ask(self) -> None:
        """Reload at the next check (the SIGHUP handler calls this)."""
        self._asked.set()

    def check(self) -> None:
        now = fingerprint(self._paths())
        asked = self._asked.is_set()
        if not asked and now == self._seen:
            return
        self._asked.clear()
        self._seen = now
        log.info("catalog reload: %s", "SIGHUP" if asked else "catalog files changed")
        self._reload()
