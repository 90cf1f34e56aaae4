""" "Did you mean": the known names nearest a name someone typed or wrote in a file."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates nearest `name`: first those that end or start with it at a `/` or `.`
    (`accuracy` and `match/accuracy`), then by similarity (difflib's ratio, at least 0.6)."""
    pool = sorted(set(candidates) - {name})
    lower = name.lower()
    parts = [
        c
        for c in pool
        if re.search(rf"(^|[/.]){re.escape(lower)}$", c.lower())
        or re.search(rf"(^|[/.]){re.escape(c.lower())}$", lower)
    ]
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    return list(dict.fromkeys([*parts, *close]))[:n]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """ "; did you mean 'x'?" naming the nearest candidates, or "" when none is near."""
    near = nearest(name, candidates)
    if not near:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in near) + "?"
