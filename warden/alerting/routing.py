"""Routing: which sinks an alert goes to, and what holds it back (silences, inhibition).

An alert is a threshold x subject; its labels are `threshold`, `subject`, `severity`, `level`,
`domain`, `scope`, `family` (the threshold id without its last part, so
`cyber.cybench.unguided.high` and `cyber.cybench.unguided.early_warning` are one family), `state`
(the state it entered), `alert` (`threshold`, or `projected_crossing` for a warning that rests on
a projection) and the threshold's own `then.labels`.

- Routes are tried in order; the first that matches takes the alert, unless it says
  `continue: true`, in which case the next ones are tried too. A route matches when every
  `match` label is equal and every `match_re` label matches its regular expression (whole value).
  Without any route, every alert goes to every sink.
- A silence (label matchers, a start and an end) holds back the notifications of the alerts it
  matches while it is active; they are still evaluated and logged.
- Inhibition: while an alert matching a rule's `source` is firing, notifications of alerts
  matching its `target` with the same values of the `equal` labels are held back (by default a
  firing `critical` or `high` level hides the `early_warning` of the same family and subject).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from warden.catalog.thresholds import Threshold
from warden.core.config import Duration, Strict
from warden.core.matchers import Matchers, Silence


class RouteSettings(Matchers):
    sinks: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue")
    # While firing and not acknowledged, notify again this often (seconds or "4h").
    repeat_interval: Duration | None = Field(None, gt=0)
    # Not acknowledged this long after firing: notify `escalate_to` too.
    escalate_after: Duration | None = Field(None, gt=0)
    escalate_to: list[str] = Field(default_factory=list)
    send_resolved: bool = True
    # Grouping, as in Alertmanager: the alerts this route sends to a sink together are one
    # notification per distinct value of these labels (none: one group for the route).
    group_by: list[str] = Field(default_factory=list)
    # How long a new group waits for more alerts before it is sent (0: at once, so the
    # transitions of one ingest or one cycle are one notification and a lone alert is not
    # delayed), and how long after a group was sent its next changes wait.
    group_wait: Duration = Field(0.0, ge=0)
    group_interval: Duration = Field(0.0, ge=0)
    # What transitions caused by history (evidence older than warden's watch: a feed's first
    # run, a backfill, a threshold added) become: one summary per group (`summary`), a
    # notification each like news (`each`), or nothing but the trigger log (`none`).
    history: Literal["summary", "each", "none"] = "summary"
    # How long a history summary waits for more history (a first sync runs several feeds one
    # after the other): news never waits for it.
    history_wait: Duration = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _escalation(self) -> RouteSettings:
        if bool(self.escalate_after) != bool(self.escalate_to):
            raise ValueError("escalate_after and escalate_to go together")
        return self


class InhibitSettings(Strict):
    source: Matchers
    target: Matchers
    equal: list[str] = Field(default_factory=lambda: ["family", "subject"])


DEFAULT_INHIBIT = (
    InhibitSettings(
        source=Matchers(match_re={"level": "critical|high"}),
        target=Matchers(match={"level": "early_warning"}),
    ),
)


def family(threshold_id: str) -> str:
    return threshold_id.rsplit(".", 1)[0]


# The labels warden gives every alert (`labels`); a threshold's `then.labels` add their own.
LABELS = (
    "threshold",
    "subject",
    "severity",
    "level",
    "domain",
    "scope",
    "family",
    "state",
    "alert",
)


def label_names(thresholds: Iterable[Threshold]) -> set[str]:
    """Every label name an alert of `thresholds` can carry: warden's own and the thresholds'
    `then.labels`."""
    return set(LABELS).union(*(t.then.labels for t in thresholds))


def unknown_labels(matchers: Matchers, known: set[str]) -> list[str]:
    """The label names `matchers` test that no alert carries: such a matcher never matches
    (`domian=compute`), or always does with a regex that takes the empty string."""
    return sorted({*matchers.match, *matchers.match_re} - known)


def label_problem(names: list[str], known: set[str]) -> str:
    """The message for unknown label names: each with its nearest known names, and all the
    known ones."""
    from warden.core.suggest import nearest

    def named(name: str) -> str:
        near = " or ".join(repr(c) for c in nearest(name, known))
        return f"{name!r} (did you mean {near}?)" if near else repr(name)

    parts = [named(n) for n in names]
    noun = "label" if len(names) == 1 else "labels"
    return (
        f"unknown {noun} {', '.join(parts)}: no alert has it, so it matches nothing (labels: "
        f"{', '.join(sorted(known))})"
    )


def label_values(thresholds: Iterable[Threshold]) -> dict[str, set[str]]:
    """The values each label but `subject` takes on the alerts of `thresholds`, in any state."""
    from warden.core.model import State

    out: dict[str, set[str]] = {}
    for t in thresholds:
        for state in State:
            for name, value in labels(t, "", state.value).items():
                out.setdefault(name, set()).add(value)
    out.setdefault("alert", set()).add("projected_crossing")
    out.pop("subject", None)  # subjects are models (or scopes): not known in advance
    return out


def matcher_problems(matchers: Matchers, thresholds: Iterable[Threshold]) -> list[str]:
    """Why `matchers` (typed by someone: a silence) can match no alert of `thresholds`: a label
    no alert carries, or an equality on a value no alert has; each with the nearest names."""
    from warden.core.suggest import did_you_mean

    values = label_values(thresholds)
    known = set(values) | {"subject"}
    found = []
    if names := unknown_labels(matchers, known):
        found.append(label_problem(names, known))
    for name, value in sorted(matchers.match.items()):
        seen = values.get(name)
        if seen is not None and value not in seen:
            shown = ", ".join(sorted(seen)[:12]) + (", ..." if len(seen) > 12 else "")
            found.append(
                f"no alert has {name}={value!r}{did_you_mean(value, seen)} ({name}: {shown})"
            )
    return found


def config_label_problems(
    routes: Sequence[Matchers], inhibit: Sequence[InhibitSettings], thresholds: Iterable[Threshold]
) -> list[tuple[str, str]]:
    """(key, message) for each route and inhibit rule that names an unknown label."""
    known = label_names(thresholds)
    found = []
    for i, route in enumerate(routes):
        names = unknown_labels(route, known)
        group_by = getattr(route, "group_by", [])
        names += sorted(set(group_by) - known - set(names))
        if names:
            found.append((f"routes.{i}", label_problem(names, known)))
    for i, rule in enumerate(inhibit):
        for side in ("source", "target"):
            if names := unknown_labels(getattr(rule, side), known):
                found.append((f"inhibit.{i}.{side}", label_problem(names, known)))
        if names := sorted(set(rule.equal) - known):
            found.append((f"inhibit.{i}.equal", label_problem(names, known)))
    return found


def labels(threshold: Threshold, subject: str, state: str) -> dict[str, str]:
    own = dict(threshold.then.labels)
    return {
        **own,
        "threshold": threshold.id,
        "subject": subject,
        "severity": threshold.then.severity,
        "level": threshold.level.value,
        "domain": threshold.domain,
        "scope": threshold.scope.value,
        "family": own.get("family", family(threshold.id)),
        "state": state,
        # `threshold` (a crossing, or its early warning), or `projected_crossing`.
        "alert": "threshold",
    }


@dataclass(frozen=True)
class Decision:
    """Where one notification goes, and why not elsewhere: recorded in the trigger log."""

    sinks: tuple[str, ...]
    routes: tuple[int, ...]
    silenced_by: tuple[int, ...] = ()
    inhibited_by: str | None = None
    # A resolution's sinks that were never handed the alert (it was inhibited or silenced
    # while it lasted): they are not told it resolved, as Alertmanager does.
    unannounced: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return {
            "sinks": list(self.sinks),
            "routes": list(self.routes),
            "silenced_by": list(self.silenced_by),
            "inhibited_by": self.inhibited_by,
            **({"unannounced": list(self.unannounced)} if self.unannounced else {}),
        }

    def announced_to(self, told: Iterable[str]) -> Decision:
        """This decision for a resolution, keeping only the sinks in `told`, those that were
        handed the alert while it lasted."""
        told = set(told)
        return replace(
            self,
            sinks=tuple(s for s in self.sinks if s in told),
            unannounced=tuple(s for s in self.sinks if s not in told),
        )


class Router:
    def __init__(
        self,
        routes: Sequence[RouteSettings],
        sinks: Sequence[str],
        inhibit: Sequence[InhibitSettings] = DEFAULT_INHIBIT,
    ) -> None:
        default = [RouteSettings(sinks=list(sinks))] if sinks else []
        self.routes = list(routes) or default
        self.inhibit = list(inhibit)

    def matching(self, alert: Mapping[str, str]) -> list[int]:
        """The indexes of the routes that take this alert."""
        out = []
        for i, route in enumerate(self.routes):
            if route.matches(alert):
                out.append(i)
                if not route.continue_:
                    break
        return out

    def decide(
        self,
        alert: Mapping[str, str],
        silences: Iterable[Silence],
        firing: Iterable[Mapping[str, str]],
        now: datetime,
    ) -> Decision:
        """The sinks a transition's notification goes to. `firing`: the labels of the alerts
        firing now (for inhibition)."""
        matches = Matches(self)
        return matches.decide(alert, matches.holds(silences, firing, now))

    def inhibitor(
        self, alert: Mapping[str, str], firing: Iterable[Mapping[str, str]]
    ) -> str | None:
        """The id of a firing alert that inhibits `alert`, if any (never itself)."""
        matches = Matches(self)
        return matches.inhibitor(alert, matches.holds((), firing, None))

    def unrouted(self, thresholds: Iterable[Threshold]) -> list[str]:
        """Thresholds whose firing alerts no route takes (they are logged, never notified)."""
        return [
            t.id
            for t in thresholds
            if not any(_matches_ignoring_subject(r, labels(t, "*", "firing")) for r in self.routes)
        ]

    def unused(self, thresholds: Iterable[Threshold]) -> list[int]:
        """Routes that no threshold of the catalog can reach in any state (a typo, usually)."""
        states = ("firing", "warning", "resolved", "nodata", "error")
        reached: set[int] = set()
        for t in thresholds:
            for state in states:
                # A route that matches on `subject` cannot be judged without subjects: treat
                # subject matchers as matching.
                alert = labels(t, "*", state)
                for i, route in enumerate(self.routes):
                    if _matches_ignoring_subject(route, alert):
                        reached.add(i)
        return [i for i in range(len(self.routes)) if i not in reached]


# An alert's labels as a dict key; a silence as matched: its id and its matchers.
LabelKey = tuple[tuple[str, str], ...]
SilenceKey = tuple[int, LabelKey, LabelKey]


def label_key(alert: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(alert.items()))


def _silence_key(s: Silence) -> SilenceKey:
    return (s.id, label_key(s.matchers.match), label_key(s.matchers.match_re))


class Unprepared(LookupError):
    """A strict `Matches` was asked for a match it was not taught (`learn`): an alert, a
    silence or a firing alert that appeared since."""


@dataclass
class Holds:
    """What may hold alerts back at one moment: the active silences (key -> position and id,
    in the order given) and the firing alerts, indexed per inhibition rule once one is needed."""

    silences: dict[SilenceKey, tuple[int, int]]
    firing: list[tuple[LabelKey, Mapping[str, str]]]
    by_rule: dict[int, dict[tuple[str | None, ...], list[Mapping[str, str]]]] = field(
        default_factory=dict
    )


class Matches:
    """The matches of one router's routes, silences and inhibition rules against alerts,
    remembered by label set: what `Router.decide` decides with. The alert cycle learns them
    (`learn`) outside its write transaction and inside it only looks them up (`strict`): a
    match it was not taught raises Unprepared rather than being computed while every other
    writer waits (alerting.cycle). Not strict, a match is computed when first needed."""

    def __init__(self, router: Router, *, strict: bool = False) -> None:
        self.router = router
        self.strict = strict
        self._routes: dict[LabelKey, tuple[int, ...]] = {}  # every alert learnt
        self._targets: dict[LabelKey, tuple[int, ...]] = {}  # inhibit rules whose target matches
        self._alerts: dict[LabelKey, Mapping[str, str]] = {}
        # Every silence seen; each alert learnt is matched against all of them.
        self._silences: dict[SilenceKey, Matchers] = {}
        self._silenced: dict[LabelKey, set[SilenceKey]] = {}
        self._sources: dict[LabelKey, frozenset[int]] = {}  # inhibit rules whose source matches

    def learn(
        self,
        alerts: Iterable[Mapping[str, str]],
        silences: Iterable[Silence],
        firing: Iterable[Mapping[str, str]],
    ) -> None:
        """Match `alerts` against the routes, `silences` and the inhibition targets, and
        `firing` (alerts that may inhibit others) against the inhibition sources."""
        strict, self.strict = self.strict, False
        try:
            for s in silences:
                self._silence(_silence_key(s), s.matchers)
            for alert in alerts:
                self._alert(label_key(alert), alert)
            for other in firing:
                self._source(label_key(other), other)
        finally:
            self.strict = strict

    def knows(self, alert: Mapping[str, str]) -> bool:
        """Whether `alert` was learnt (its routes, silences and inhibition targets)."""
        return label_key(alert) in self._routes

    def holds(
        self,
        silences: Iterable[Silence],
        firing: Iterable[Mapping[str, str]],
        now: datetime | None,
    ) -> Holds:
        """The silences active at `now` (all of them without a time) and the alerts firing, to
        decide alerts against."""
        active: dict[SilenceKey, tuple[int, int]] = {}
        for s in silences:
            if now is None or s.active(now):
                key = _silence_key(s)
                self._silence(key, s.matchers)
                active.setdefault(key, (len(active), s.id))
        return Holds(active, [(label_key(f), f) for f in firing])

    def decide(self, alert: Mapping[str, str], holds: Holds) -> Decision:
        """Router.decide, with the silences and firing alerts of `holds`."""
        key = label_key(alert)
        routes = self._alert(key, alert)
        resolved = alert.get("state") == "resolved"
        chosen = [self.router.routes[i] for i in routes]
        sinks = tuple(
            dict.fromkeys(
                s for r in chosen if not (resolved and not r.send_resolved) for s in r.sinks
            )
        )
        hits = self._silenced[key]
        silenced = tuple(
            i for _, i in sorted(holds.silences[k] for k in hits if k in holds.silences)
        )
        inhibited = self.inhibitor(alert, holds)
        if silenced or inhibited:
            return Decision((), routes, silenced, inhibited)
        return Decision(sinks, routes)

    def inhibitor(self, alert: Mapping[str, str], holds: Holds) -> str | None:
        """The id of a firing alert of `holds` that inhibits `alert`, if any (never itself):
        the first, in their order, that a rule whose target `alert` matches takes as its source
        with the same `equal` labels."""
        key = label_key(alert)
        self._alert(key, alert)
        for r in self._targets[key]:
            rule = self.router.inhibit[r]
            index = holds.by_rule.get(r)
            if index is None:
                index = holds.by_rule[r] = {}
                for other_key, other in holds.firing:
                    if r in self._source(other_key, other):
                        index.setdefault(tuple(other.get(k) for k in rule.equal), []).append(other)
            for other in index.get(tuple(alert.get(k) for k in rule.equal), ()):
                if other.get("threshold") != alert.get("threshold"):
                    return f"{other['threshold']} ({other['subject']})"
        return None

    def _miss(self, what: str) -> None:
        if self.strict:
            raise Unprepared(what)

    def _alert(self, key: LabelKey, alert: Mapping[str, str]) -> tuple[int, ...]:
        """The routes that take `alert`; its inhibition targets and silences learnt too."""
        routes = self._routes.get(key)
        if routes is not None:
            return routes
        self._miss(f"alert {dict(alert)!r}")
        self._targets[key] = tuple(
            i for i, rule in enumerate(self.router.inhibit) if rule.target.matches(alert)
        )
        self._silenced[key] = {k for k, m in self._silences.items() if m.matches(alert)}
        self._alerts[key] = alert
        routes = self._routes[key] = tuple(self.router.matching(alert))
        return routes

    def _silence(self, key: SilenceKey, matchers: Matchers) -> None:
        if key in self._silences:
            return
        self._miss(f"silence {key[0]}")
        for alert_key, alert in self._alerts.items():
            if matchers.matches(alert):
                self._silenced[alert_key].add(key)
        self._silences[key] = matchers

    def _source(self, key: LabelKey, other: Mapping[str, str]) -> frozenset[int]:
        found = self._sources.get(key)
        if found is None:
            self._miss(f"firing alert {dict(other)!r}")
            found = self._sources[key] = frozenset(
                i for i, rule in enumerate(self.router.inhibit) if rule.source.matches(other)
            )
        return found


def _matches_ignoring_subject(m: Matchers, alert: Mapping[str, str]) -> bool:
    rest = Matchers(
        match={k: v for k, v in m.match.items() if k != "subject"},
        match_re={k: v for k, v in m.match_re.items() if k != "subject"},
    )
    return rest.matches(alert)
