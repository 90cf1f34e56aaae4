"""What a threshold's numbers rest on: a framework's own number, or a proxy chosen by warden's
catalog, with the citation.

A catalog threshold tags each of its numbers (`provenance: {when.value: {kind: source|proxy,
note}}`, keyed by the path as written: `when.value`, `when.ratio`, `when.rule_in`,
`when.all[0].value`, `warn_at`, `when.rule_out`, ...). `basis(provenance, condition, sources)`
reads those tags, the threshold's `when` (as the trigger log keeps it) and its `sources`, and
says which of them set the trigger level (one per condition), which the early warning, and
whether the level a person is alerted about is the framework's number (`kind: source`: the
cited framework or regulation states that number), a proxy (a level the framework states in
words, turned into a benchmark number by the catalog), both (a combination of each) or
unstated (the catalog does not say). Pure and tolerant: it reads trigger-log content written
by any version of warden and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["framework", "proxy", "mixed", "unstated"]

LABELS: dict[str, str] = {
    "framework": "framework number",
    "proxy": "proxy chosen by warden's catalog",
    "mixed": "framework numbers and proxies chosen by warden's catalog",
    "unstated": "provenance not stated",
}
SHORT = {"source": "framework number", "proxy": "proxy"}

# The last segment of a path that sets a trigger level, and one that sets an early warning.
# `drop`, `z` and `tolerance` are the levels of evidence conflicts and signs of
# under-elicitation (how far apart two results must be); `status`, a lab's declared status
# (`when: {declared: {..., status}}`), is the level of a condition on declarations.
LEVELS = {"value", "ratio", "rule_in", "days", "compute_ratio", "drop", "z", "tolerance", "status"}
WARNINGS = {"warn_at", "rule_out", "margin"}
_PART = re.compile(r"\Awhen\.(?:all|any|of)\[(\d+)\]\.(\w+)\Z")


@dataclass(frozen=True)
class Tagged:
    """One number of a threshold with its tag."""

    path: str  # as written in the catalog: "when.value", "when.all[0].warn_at"
    kind: str  # "source" or "proxy"
    note: str
    part: int | None  # the combination's condition it belongs to; None for the whole
    warning: bool  # an early-warning level rather than the trigger level

    @property
    def text(self) -> str:
        """ "when.value: proxy (chosen by us: ...)"."""
        return f"{self.path}: {SHORT.get(self.kind, self.kind)}" + (
            f" ({self.note})" if self.note else ""
        )


@dataclass(frozen=True)
class Basis:
    numbers: tuple[Tagged, ...]  # the tagged trigger and warning levels
    parts: int  # how many conditions set a trigger level (a combination's, else 1)
    combined: bool  # a combination: its levels are tagged per condition
    sources: tuple[tuple[str, str], ...]  # (title, url)

    def of(self, part: int | None, warning: bool = False) -> str | None:
        """The tag ("source"/"proxy") of a level: the trigger (or warning) level of the
        threshold (`part` None) or of a combination's condition `part`; None if untagged."""
        for n in self.numbers:
            if n.warning == warning and (n.part == part or (part == 0 and n.part is None)):
                return n.kind
        return None

    @property
    def triggers(self) -> list[str | None]:
        """The tag of each condition's trigger level (None: untagged)."""
        if not self.combined:
            return [self.of(None)]
        return [self.of(i) for i in range(self.parts)]

    @property
    def kind(self) -> Kind:
        kinds = {k or "unstated" for k in self.triggers}
        if {"source", "proxy"} <= kinds:
            return "mixed"
        if "proxy" in kinds:
            return "proxy"  # an untagged level beside a proxy makes it no framework number
        return "framework" if kinds == {"source"} else "unstated"

    @property
    def label(self) -> str:
        """ "framework number", "proxy chosen by warden's catalog", ..."""
        return LABELS[self.kind]

    @property
    def citation(self) -> str:
        """The threshold's sources: "Title <url>; Title <url>"."""
        return "; ".join(f"{title} <{url}>" if url else title for title, url in self.sources)

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per tagged number, the trigger levels first."""
        ordered = sorted(self.numbers, key=lambda n: (n.warning, n.part or 0))
        return tuple(n.text for n in ordered)

    @property
    def line(self) -> str:
        """One line for a summary: "proxy chosen by warden's catalog; sources: ..."."""
        return self.label + (f"; sources: {self.citation}" if self.sources else "")

    def as_dict(self) -> dict[str, Any]:
        """For JSON: kind, label, the tagged numbers and the sources."""
        return {
            "kind": self.kind,
            "label": self.label,
            "numbers": {n.path: {"kind": n.kind, "note": n.note} for n in self.numbers},
            "sources": [{"title": t, "url": u} for t, u in self.sources],
        }


def basis(provenance: Any, condition: Any, sources: Any = ()) -> Basis:
    """The basis of a threshold from its `provenance` tags, its `when` (the trigger log's
    `condition`) and its `sources` (a list of `{title, url}`)."""
    numbers = []
    for path, tag in provenance.items() if isinstance(provenance, Mapping) else ():
        found = _place(str(path))
        if found is None or not isinstance(tag, Mapping):
            continue
        kind = tag.get("kind")
        if kind not in SHORT:
            continue
        note = tag.get("note")
        numbers.append(Tagged(str(path), str(kind), note if isinstance(note, str) else "", *found))
    parts, combined = 1, False
    if isinstance(condition, Mapping) and "mode" in condition:
        of = condition.get("of")
        parts, combined = (len(of), True) if isinstance(of, list | tuple) and of else (1, False)
    return Basis(tuple(numbers), parts, combined, _sources(sources))


def _place(path: str) -> tuple[int | None, bool] | None:
    """(part, warning) of a tagged path that sets a level; None for other numbers (`clear_at`,
    `projected.*`, `at_least`)."""
    if path in ("warn_at", "warn_at.margin"):
        return None, True
    match = _PART.match(path)
    if match:
        last = match.group(2)
        return (int(match.group(1)), last in WARNINGS) if last in LEVELS | WARNINGS else None
    if path.startswith("when."):
        last = path.rsplit(".", 1)[-1]
        return (None, last in WARNINGS) if last in LEVELS | WARNINGS else None
    return None


def _sources(value: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for s in value if isinstance(value, list | tuple) else ():
        if isinstance(s, Mapping) and isinstance(s.get("title"), str):
            url = s.get("url")
            out.append((s["title"], url if isinstance(url, str) else ""))
    return tuple(out)
