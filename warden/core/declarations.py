"""Lab declarations as evidence: the words shared by the `declarations` connector, the catalog's
`declared:` and `diverges:` conditions and evaluation.

A declaration (a lab saying its own model reached, could not rule out, or stayed below a level
of its own safety framework) is an observation of the `declaration` benchmark: metric
`<framework>.<level>.<domain>` in slugs (`anthropic-rsp.asl-3.cbrn`), value the ordinal of its
status in STATUSES, `measured_by: vendor`.
"""

from __future__ import annotations

import re

DECLARATION = "declaration"
# Declarations a connector found in a document (a system card), for a person to confirm with
# `warden declarations confirm`; no threshold may read them (the catalog refuses it).
CANDIDATE = "declaration_candidate"
# A declaration's status, least to most severe; its value is the index.
STATUSES = ("below", "early_warning_reached", "could_not_rule_out", "crossed")
_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """`ASL-3` -> `asl-3`, `Biological and Chemical` -> `biological-and-chemical`."""
    return _SLUG.sub("-", text.strip().lower()).strip("-")


def declaration_metric(framework: str, level: str, domain: str) -> str:
    """The `declaration` benchmark's metric for one framework level in one domain."""
    return ".".join(slug(p) for p in (framework, level, domain))


def status_value(status: str) -> int:
    """The ordinal of a status (`could not rule out` and `could_not_rule_out` alike)."""
    key = slug(status).replace("-", "_")
    if key not in STATUSES:
        raise ValueError(f"status {status!r}: one of {', '.join(STATUSES)}")
    return STATUSES.index(key)


def status_name(value: float) -> str:
    index = round(value)
    return STATUSES[index] if 0 <= index < len(STATUSES) else f"status {value:g}"
