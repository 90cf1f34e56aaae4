"""Warden: an early-warning daemon for frontier-AI capability thresholds."""

from __future__ import annotations

__version__ = "0.1.0"
