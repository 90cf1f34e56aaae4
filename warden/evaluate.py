"""Evaluation: thresholds x evidence -> verdicts. Pure: no clock, network or database.

- `breached` when the newest observation meets the condition, `warning` when it meets `warn_at`,
  `ok` otherwise, `unknown` when there is no evidence or all of it is older than `stale_after`.
- `confirmations` counts the consecutive newest observations that meet the condition; the state
  machine fires once it reaches the threshold's `for`.
- Scope `frontier` evaluates the best model (highest value when the condition is `>=`/`>`,
  lowest for `<=`/`<`) as the single subject `frontier`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from warden.catalog import Scope, Threshold
from warden.model import Evaluation, Point, Verdict
from warden.registry import ModelSpec

FRONTIER = Scope.FRONTIER.value

SubjectSeries = Mapping[str, Sequence[Point]]


def evaluate(
    threshold: Threshold,
    series: SubjectSeries,
    now: datetime,
    known_subjects: Iterable[str] = (),
    models: Mapping[str, ModelSpec] | None = None,
    feed_stale: Mapping[str, float] | None = None,
) -> list[Evaluation]:
    """Evaluate one threshold. `series` maps each subject to its observations of the threshold's
    benchmark metric, newest first. `known_subjects` (those with an alert state) that have no
    evidence any more are reported `unknown`, never `ok`. `models` (the registry's) decides who
    is in an open-weights or organisation scope; a model it does not know is in neither.
    `feed_stale` (feed id -> seconds) makes evidence from a feed stale sooner."""
    series = _in_scope(threshold, series, models or {})
    fresh = _fresh(threshold, series, now, feed_stale or {})
    if threshold.is_frontier:
        return [_frontier(threshold, fresh, series, bool(feed_stale))]
    out = [_judge(threshold, subject, obs) for subject, obs in sorted(fresh.items())]
    for subject in sorted(set(series) - set(fresh)):
        reason = _stale(threshold, bool(feed_stale))
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason))
    for subject in sorted(set(known_subjects) - set(series)):
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason="no evidence"))
    return out


def _in_scope(
    threshold: Threshold, series: SubjectSeries, models: Mapping[str, ModelSpec]
) -> SubjectSeries:
    org, open_only = threshold.organisation, threshold.scope is Scope.OPEN_WEIGHTS_FRONTIER
    if org is None and not open_only:
        return series

    def member(subject: str) -> bool:
        model = models.get(subject)
        if model is None:
            return False
        return (org is None or model.organisation == org) and (
            not open_only or model.open_weights is True
        )

    return {s: obs for s, obs in series.items() if member(s)}


def _fresh(
    threshold: Threshold, series: SubjectSeries, now: datetime, feed_stale: Mapping[str, float]
) -> SubjectSeries:
    """The evidence that counts: not older than the threshold's or its feed's `stale_after`,
    with at least `min_samples` samples, and with a stderr when `missing_uncertainty: ignore`.
    Emptied subjects go."""
    t = threshold
    plain = t.min_samples is None and t.missing_uncertainty == "point"
    if t.stale_after is None and not feed_stale and plain:
        return {s: obs for s, obs in series.items() if obs}
    oldest = None if t.stale_after is None else now - timedelta(seconds=t.stale_after)
    feed_oldest = {f: now - timedelta(seconds=s) for f, s in feed_stale.items()}
    need_stderr = t.confidence is not None and t.missing_uncertainty == "ignore"

    def counts(o: Point) -> bool:
        by_feed = feed_oldest.get(o.feed)
        return (
            (oldest is None or o.observed_at >= oldest)
            and (by_feed is None or o.observed_at >= by_feed)
            and (t.min_samples is None or (o.n is not None and o.n >= t.min_samples))
            and not (need_stderr and o.stderr is None)
        )

    fresh = {s: [o for o in obs if counts(o)] for s, obs in series.items()}
    return {s: obs for s, obs in fresh.items() if obs}


def _stale(threshold: Threshold, by_feed: bool) -> str:
    """Why evidence that exists does not count."""
    rules = []
    if threshold.stale_after is not None:
        rules.append(f"newer than stale_after ({threshold.stale_after:g} s)")
    if by_feed:
        rules.append("newer than its feed's stale_after")
    if threshold.min_samples is not None:
        rules.append(f"from at least min_samples ({threshold.min_samples}) samples")
    if threshold.confidence is not None and threshold.missing_uncertainty == "ignore":
        rules.append("with a stderr (missing_uncertainty: ignore)")
    return "no evidence counts: it must be " + " and ".join(rules)


def _frontier(
    threshold: Threshold, fresh: SubjectSeries, series: SubjectSeries, by_feed: bool
) -> Evaluation:
    subject = threshold.scope.value
    if not fresh:
        reason = _stale(threshold, by_feed) if series else "no evidence in scope"
        return Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason)
    sign = 1.0 if threshold.when.higher_is_more else -1.0
    best = max(sorted(fresh), key=lambda s: sign * fresh[s][0].value)
    return _judge(threshold, subject, fresh[best])


def _judge(threshold: Threshold, subject: str, obs: Sequence[Point]) -> Evaluation:
    meets, limit, warn_at = threshold.when.compare, threshold.when.value, threshold.warn_at
    confirmations = 0
    if threshold.z is None:
        for o in obs:
            if not meets(o.value, limit):
                break
            confirmations += 1
    else:
        for o in obs:
            if not meets(threshold.compared(o.value, o.stderr), limit):
                break
            confirmations += 1
    value = obs[0].value
    if confirmations:
        verdict = Verdict.BREACHED
    elif warn_at is not None and meets(value, warn_at):
        verdict = Verdict.WARNING
    else:
        verdict = Verdict.OK
    evidence = tuple(obs[: max(confirmations, 1)])
    return Evaluation(threshold.id, subject, verdict, value, confirmations, evidence)


def explain(threshold: Threshold, ev: Evaluation) -> str:
    """Why `ev` came out as it did, for logs, the CLI and the trigger log."""
    if ev.reason or ev.value is None:
        return ev.reason
    when = threshold.when
    newest = ev.evidence[0] if ev.evidence else None
    if threshold.z is not None and newest is not None and newest.stderr is not None:
        side = "lower" if when.higher_is_more else "upper"
        bound = threshold.compared(newest.value, newest.stderr)
        meets = "" if ev.verdict is Verdict.BREACHED else "not "
        return (
            f"{ev.value:g} ± {newest.stderr:g}: {side} {threshold.confidence:g} bound "
            f"{bound:g} {meets}{when.op} {when.value:g}"
            + (
                f"; warning: {ev.value:g} {when.op} warn_at {threshold.warn_at:g}"
                if ev.verdict is Verdict.WARNING
                else ""
            )
        )
    if ev.verdict is Verdict.BREACHED:
        text = f"{ev.value:g} {when.op} {when.value:g}"
    elif ev.verdict is Verdict.WARNING:
        text = f"{ev.value:g} {when.op} warn_at {threshold.warn_at:g}"
    else:
        text = f"{ev.value:g} not {when.op} {when.value:g}"
    if when.ratio is not None:
        text += f" ({when.value:g} is {when.ratio:g} x baseline {when.baseline!r})"
    if ev.evidence and ev.evidence[0].subject != ev.subject:
        text = f"best model: {ev.evidence[0].subject}; {text}"
    return text


def depth(thresholds: Iterable[Threshold]) -> int:
    """How many newest observations per series evaluation needs."""
    return max((t.for_ for t in thresholds), default=1)
