"""Evaluation: thresholds x evidence -> verdicts. Pure: no clock, network or database.

- `breached` when the newest observation meets the condition, `warning` when it meets `warn_at`,
  `ok` otherwise, `unknown` when there is no evidence or all of it is older than `stale_after`.
- `confirmations` counts the consecutive newest observations that meet the condition; the state
  machine fires once it reaches the threshold's `for`.
- Variants: a model's runs at several settings (an effort level, a scaffold: the observation's
  `variant`) are series of their own, each judged on its newest observations; the model's
  verdict is that of its most capable variant, as the frameworks assess capability at maximum
  elicitation: the most severe verdict, then the most confirmations, then the highest value for
  a `>=`/`>` condition (the lowest for `<=`/`<`; the bound of the confidence interval when the
  threshold has one), then the first variant by name. The evidence is that variant's, and the
  explanation names it.
- Scope `frontier` evaluates the best model (chosen as a model's variant is, so the highest
  value when the condition is `>=`/`>`, lowest for `<=`/`<`) as the single subject `frontier`.
- A combination (`all`, `any`, `at_least: k`) judges each condition per model and combines the
  verdicts (ok < warning < breached: `all` takes the lowest, `any` the highest, `at_least: k` the
  k-th highest). A condition without evidence could be anything: the combined verdict is the
  one that holds whatever it is; else, if the evidence there is already establishes a
  `warning`, that; else `unknown` (missing evidence never reads as `ok`). Under a frontier
  scope the model whose combination is most severe is the frontier.
- Who measured it: a threshold reads the evidence its `evidence:` chooses, and `conflict:` and
  `diverges:` compare measurers, or a lab's declaration with the evidence
  (warden.evaluation.evidence; judging per variant and measurer: warden.evaluation.judge).
- `sign:` looks for results below the model's capability (its predecessor's, its own fuller
  run's, the vendor's): signs of under-elicitation for a person to check
  (warden.evaluation.signs); the predecessor is found by the registry's family and release date.
- `since_assessment` judges each model with a recorded assessment: the days since it, or its
  newest training compute over the compute recorded with it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from warden.catalog.conditions import (
    Combination,
    Condition,
    Conflict,
    Divergence,
    Reassessment,
    SilentFeed,
)
from warden.catalog.disagreement import DECLARATION, status_name
from warden.catalog.registry import ModelSpec
from warden.catalog.signs import Sign
from warden.catalog.thresholds import Scope, Threshold
from warden.core.model import COMPUTE, Assessment, Evaluation, Point, Verdict
from warden.evaluation.evidence import chosen, conflicts, divergences, measured_text
from warden.evaluation.judge import BY_RANK, RANK, by_variant, capability, most_capable
from warden.evaluation.signs import signs
from warden.forecasting.frontier import ThresholdForecast
from warden.forecasting.projection import explain as projected_reason
from warden.forecasting.projection import stale, stale_reason, warns

FRONTIER = Scope.FRONTIER.value

SubjectSeries = Mapping[str, Sequence[Point]]
Evidence = Mapping[tuple[str, str], SubjectSeries]  # (benchmark, metric) -> series


def evaluate_threshold(
    threshold: Threshold,
    evidence: Evidence,
    now: datetime,
    known_subjects: Iterable[str] = (),
    models: Mapping[str, ModelSpec] | None = None,
    silent_feeds: Collection[str] = (),
    assessments: Mapping[str, Assessment] | None = None,
    feed_runs: Mapping[str, FeedRuns] | None = None,
    forecasts: Mapping[str, ThresholdForecast] | None = None,
) -> list[Evaluation]:
    """Evaluate one threshold of any kind on `evidence` (every series it reads).
    `assessments`: each model's last assessment; `feed_runs`: each feed's run history;
    `forecasts`: the projected frontier of thresholds with `projected:`."""
    when = threshold.when
    if isinstance(when, SilentFeed):
        return [_silent(threshold, when, now, (feed_runs or {}).get(when.feed))]
    if isinstance(when, Combination):
        return _combined(threshold, when, evidence, now, known_subjects, models, silent_feeds)
    if isinstance(when, Reassessment):
        return _reassessed(threshold, when, evidence, now, known_subjects, assessments or {})
    if isinstance(when, Conflict | Divergence):
        return _disagreement(threshold, when, evidence, now, known_subjects, models, silent_feeds)
    if isinstance(when, Sign):
        given = _in_scope(threshold, evidence.get(when.pairs[0], {}), models or {})
        fresh = _fresh(threshold, given, now, silent_feeds)
        return signs(threshold, when, fresh, known_subjects, models or {})
    series = evidence.get((when.benchmark, when.metric), {})
    out = evaluate(threshold, series, now, known_subjects, models, silent_feeds)
    forecast = (forecasts or {}).get(threshold.id)
    if forecast is not None and warns(threshold, forecast):
        # Ahead of the data: an `ok` frontier whose trend crosses the trigger value in time.
        out = [
            e._replace(
                verdict=Verdict.WARNING,
                reason=projected_reason(threshold, forecast),
                projection=forecast.as_dict(),
            )
            if e.verdict is Verdict.OK
            else e
            for e in out
        ]
    elif forecast is not None and stale(threshold, forecast):
        # Too old to project from: not `ok`, which would say the trend was checked.
        out = [
            e._replace(verdict=Verdict.UNKNOWN, reason=stale_reason(forecast))
            if e.verdict is Verdict.OK
            else e
            for e in out
        ]
    return out


def evaluate(
    threshold: Threshold,
    series: SubjectSeries,
    now: datetime,
    known_subjects: Iterable[str] = (),
    models: Mapping[str, ModelSpec] | None = None,
    silent_feeds: Collection[str] = (),
) -> list[Evaluation]:
    """Evaluate one threshold. `series` maps each subject to its observations of the threshold's
    benchmark metric, newest first. `known_subjects` (those with an alert state) that have no
    evidence any more are reported `unknown`, never `ok`. `models` (the registry's) decides who
    is in an open-weights or organisation scope; a model it does not know is in neither.
    Evidence from `silent_feeds` (feeds silent past their `stale_after`) does not count."""
    assert isinstance(threshold.when, Condition), "evaluate_threshold handles the other kinds"
    series = _in_scope(threshold, chosen(threshold, threshold.when.benchmark, series), models or {})
    fresh = _fresh(threshold, series, now, silent_feeds)
    if threshold.is_frontier:
        return [_frontier(threshold, fresh, series, silent_feeds)]
    when = threshold.when
    out = [
        most_capable(threshold, subject, obs, when, threshold.warn_at)
        for subject, obs in sorted(fresh.items())
    ]
    for subject in sorted(set(series) - set(fresh)):
        reason = _stale(threshold, _silenced({subject: series[subject]}, silent_feeds))
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason))
    for subject in sorted(set(known_subjects) - set(series)):
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason="no evidence"))
    return out


def _disagreement(
    threshold: Threshold,
    when: Conflict | Divergence,
    evidence: Evidence,
    now: datetime,
    known_subjects: Iterable[str],
    models: Mapping[str, ModelSpec] | None,
    silent_feeds: Collection[str],
) -> list[Evaluation]:
    """Evidence that disagrees: measurers with each other, or a lab's declaration with the
    evidence (warden.evaluation.evidence). Declarations are not subject to `stale_after`."""
    pair = when.pairs[0]
    given = evidence.get(pair, {})
    if isinstance(when, Divergence):
        given = chosen(threshold, pair[0], given)
    fresh = _fresh(threshold, _in_scope(threshold, given, models or {}), now, silent_feeds)
    if isinstance(when, Conflict):
        return conflicts(threshold, when, fresh, known_subjects)
    declared = _in_scope(threshold, evidence.get((DECLARATION, when.declaration), {}), models or {})
    return divergences(threshold, when, fresh, declared, known_subjects)


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
    threshold: Threshold, series: SubjectSeries, now: datetime, silent_feeds: Collection[str]
) -> SubjectSeries:
    """The evidence that counts: not older than the threshold's `stale_after`, not from a feed
    silent past its own `stale_after`, with at least `min_samples` samples, and with a stderr
    when `missing_uncertainty: ignore`. Emptied subjects go."""
    t = threshold
    plain = t.min_samples is None and t.missing_uncertainty == "point"
    if t.stale_after is None and not silent_feeds and plain:
        return {s: obs for s, obs in series.items() if obs}
    oldest = None if t.stale_after is None else now - timedelta(seconds=t.stale_after)
    need_stderr = t.confidence is not None and t.missing_uncertainty == "ignore"

    def counts(o: Point) -> bool:
        at = o.observed_at
        assert at is not None or oldest is None, "read observed_at"
        assert o.feed is not None or not silent_feeds, "read feed"
        return (
            (oldest is None or (at is not None and at >= oldest))
            and o.feed not in silent_feeds
            and (t.min_samples is None or (o.n is not None and o.n >= t.min_samples))
            and not (need_stderr and o.stderr is None)
        )

    fresh = {s: [o for o in obs if counts(o)] for s, obs in series.items()}
    return {s: obs for s, obs in fresh.items() if obs}


def _silenced(series: SubjectSeries, silent_feeds: Collection[str]) -> list[str]:
    """The silent feeds among those `series` came from."""
    return sorted({o.feed for obs in series.values() for o in obs if o.feed in silent_feeds})


def _stale(threshold: Threshold, silenced: Sequence[str]) -> str:
    """Why evidence that exists does not count."""
    rules = []
    if threshold.stale_after is not None:
        rules.append(f"newer than stale_after ({threshold.stale_after:g} s)")
    if silenced:
        rules.append(
            f"from a feed that succeeded within its stale_after (silent: {', '.join(silenced)})"
        )
    if threshold.min_samples is not None:
        rules.append(f"from at least min_samples ({threshold.min_samples}) samples")
    if threshold.confidence is not None and threshold.missing_uncertainty == "ignore":
        rules.append("with a stderr (missing_uncertainty: ignore)")
    return "no evidence counts: it must be " + " and ".join(rules)


def _frontier(
    threshold: Threshold, fresh: SubjectSeries, series: SubjectSeries, silent: Collection[str]
) -> Evaluation:
    subject = threshold.scope.value
    if not fresh:
        reason = _stale(threshold, _silenced(series, silent)) if series else "no evidence in scope"
        return Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=reason)
    when = threshold.when
    assert isinstance(when, Condition)
    warn_at = threshold.warn_at
    judged = [most_capable(threshold, s, o, when, warn_at) for s, o in sorted(fresh.items())]
    best = max(judged, key=lambda e: capability(threshold, when, e))  # the first of equals
    return best._replace(subject=subject)


def explain(threshold: Threshold, ev: Evaluation) -> str:
    """Why `ev` came out as it did, for logs, the CLI and the trigger log."""
    if ev.reason or ev.value is None or not isinstance(threshold.when, Condition):
        return ev.reason
    when = threshold.when
    if when.benchmark == DECLARATION:  # a status, not a number: "declared could_not_rule_out"
        most = "at most" if when.op in ("<=", "<") else "at least"
        meets = "" if ev.verdict is Verdict.BREACHED else "not "
        shown = f"declared {status_name(ev.value)} ({when.metric})"
        return f"{shown}; {meets}{most} {status_name(when.value)}"
    newest = ev.evidence[0] if ev.evidence else None
    if threshold.z is not None and newest is not None and newest.stderr is not None:
        side = "lower" if when.higher_is_more else "upper"
        bound = threshold.compared(newest.value, newest.stderr, when.higher_is_more)
        meets = "" if ev.verdict is Verdict.BREACHED else "not "
        return (
            f"{ev.value:g} ± {newest.stderr:g}: {side} {threshold.confidence:g} bound "
            f"{bound:g} {meets}{when.op} {when.value:g}"
            + (
                f"; warning: {ev.value:g} {when.op} warn_at {threshold.warn_at:g}"
                if ev.verdict is Verdict.WARNING
                else ""
            )
            + _variant_text(newest)
            + measured_text(threshold, newest)
        )
    if ev.verdict is Verdict.BREACHED:
        text = f"{ev.value:g} {when.op} {when.value:g}"
    elif ev.verdict is Verdict.WARNING:
        text = f"{ev.value:g} {when.op} warn_at {threshold.warn_at:g}"
    else:
        text = f"{ev.value:g} not {when.op} {when.value:g}"
    if when.ratio is not None:
        text += f" ({when.value:g} is {when.ratio:g} x baseline {when.baseline!r})"
    text += _variant_text(newest) + measured_text(threshold, newest)
    if ev.evidence and ev.evidence[0].subject != ev.subject:
        text = f"best model: {ev.evidence[0].subject}; {text}"
    return text


def _variant_text(newest: Point | None) -> str:
    """ " (variant xhigh)" for a result of a model's variant, else nothing."""
    return f" (variant {newest.variant})" if newest is not None and newest.variant else ""


def _combined(
    threshold: Threshold,
    when: Combination,
    evidence: Evidence,
    now: datetime,
    known_subjects: Iterable[str],
    models: Mapping[str, ModelSpec] | None,
    silent_feeds: Collection[str],
) -> list[Evaluation]:
    legs = []
    for part in when.of:
        given = chosen(threshold, part.benchmark, evidence.get((part.benchmark, part.metric), {}))
        series = _in_scope(threshold, given, models or {})
        legs.append((part, _fresh(threshold, series, now, silent_feeds)))
    subjects = sorted({s for _, fresh in legs for s in fresh})
    judged = [_combine(threshold, when, s, [(p, f.get(s, ())) for p, f in legs]) for s in subjects]
    if threshold.is_frontier:
        scope = threshold.scope.value
        definite = [e for e in judged if e.verdict is not Verdict.UNKNOWN]
        if not definite:
            why = "no model has evidence enough to judge the combination"
            return [Evaluation(threshold.id, scope, Verdict.UNKNOWN, reason=why)]
        best = max(definite, key=lambda e: RANK[e.verdict])  # the first of equals, by id
        reason = f"best model: {best.subject}; {best.reason}"
        return [best._replace(subject=scope, reason=reason)]
    out = judged
    for subject in sorted(set(known_subjects) - set(subjects)):
        out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason="no evidence"))
    return out


def _combine(
    threshold: Threshold,
    when: Combination,
    subject: str,
    legs: Sequence[tuple[Condition, Sequence[Point]]],
) -> Evaluation:
    """One model's verdict on a combination of conditions."""
    judged = [
        most_capable(threshold, subject, obs, part, getattr(part, "warn_at", None)) if obs else None
        for part, obs in legs
    ]
    need = when.needed

    def kth(values: list[int]) -> int:
        return sorted(values, reverse=True)[need - 1]

    low = kth([RANK[e.verdict] if e else 0 for e in judged])
    high = kth([RANK[e.verdict] if e else 2 for e in judged])
    met = sum(1 for e in judged if e and e.verdict is Verdict.BREACHED)
    rule = f"at least {need}" if when.mode == "at_least" else when.mode
    lines = []
    for (part, _), e in zip(legs, judged, strict=True):
        name = f"{part.benchmark}/{part.metric}"
        lines.append(f"{name}: no evidence" if e is None else f"{name} {_brief(part, e)}")
    reason = f"{met} of {len(legs)} met ({rule}): " + "; ".join(lines)
    evidence = tuple(p for e in judged if e for p in e.evidence)
    if low != high and low < RANK[Verdict.WARNING]:
        return Evaluation(threshold.id, subject, Verdict.UNKNOWN, None, 0, evidence, reason)
    # The evidence there is establishes at least `low`; what is missing could only raise it.
    verdict = BY_RANK[low]
    confirmations = 0
    if verdict is Verdict.BREACHED:
        breached = [e.confirmations if e and e.verdict is Verdict.BREACHED else 0 for e in judged]
        confirmations = kth(breached)
    return Evaluation(threshold.id, subject, verdict, None, confirmations, evidence, reason)


def _brief(part: Condition, e: Evaluation) -> str:
    value = e.value if e.value is not None else float("nan")
    variant = _variant_text(e.evidence[0] if e.evidence else None)
    if e.verdict is Verdict.BREACHED:
        return f"{value:g} {part.op} {part.value:g}{variant}"
    if e.verdict is Verdict.WARNING:
        return f"{value:g} {part.op} warn_at {getattr(part, 'warn_at', 0):g}{variant}"
    return f"{value:g} not {part.op} {part.value:g}{variant}"


def _reassessed(
    threshold: Threshold,
    when: Reassessment,
    evidence: Evidence,
    now: datetime,
    known_subjects: Iterable[str],
    assessments: Mapping[str, Assessment],
) -> list[Evaluation]:
    """Each assessed model (of the threshold's organisation, when it names one)."""
    compute = evidence.get(COMPUTE, {})
    out = []
    for subject in sorted(set(assessments) | set(known_subjects)):
        a = assessments.get(subject)
        if a is None:
            out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason="not assessed"))
            continue
        if when.since == "days":
            value, shown = (now - a.at).total_seconds() / 86400, "days since its assessment"
            points: tuple[Point, ...] = ()
        else:
            newest = compute.get(subject, ())
            if a.compute is None or not newest:
                why = (
                    "no training compute was recorded with its last assessment"
                    if a.compute is None
                    else "no training compute observation"
                )
                out.append(Evaluation(threshold.id, subject, Verdict.UNKNOWN, reason=why))
                continue
            # The largest of the newest per variant (compute figures rarely have variants).
            point = max((obs[0] for obs in by_variant(newest).values()), key=lambda o: o.value)
            value, shown = point.value / a.compute, "x the compute at its assessment"
            points = (point,)
        if when.holds(value):
            verdict = Verdict.BREACHED
        elif threshold.warn_at is not None and when.holds(value, threshold.warn_at):
            verdict = Verdict.WARNING
        else:
            verdict = Verdict.OK
        reason = (
            f"{value:.4g} {shown} of {a.at.date().isoformat()} by {a.by} "
            f"({'' if verdict is Verdict.BREACHED else 'not '}>= {when.value:g})"
        )
        confirmations = 1 if verdict is Verdict.BREACHED else 0
        out.append(Evaluation(threshold.id, subject, verdict, value, confirmations, points, reason))
    return out


class FeedRuns(NamedTuple):
    first_attempt: datetime | None
    last_success: datetime | None

    def silent_for(self, now: datetime) -> float | None:
        """Seconds since the last successful run (since the first attempt when none
        succeeded); None when the feed never ran."""
        since = self.last_success or self.first_attempt
        return None if since is None else (now - since).total_seconds()


def silent_feeds(
    stale_after: Mapping[str, float], runs: Mapping[str, FeedRuns], now: datetime
) -> frozenset[str]:
    """The feeds that have gone their `stale_after` without a successful run: their evidence
    does not count. A feed that never ran is not silent (it has not had its chance)."""
    silent = set()
    for feed, seconds in stale_after.items():
        history = runs.get(feed)
        quiet = None if history is None else history.silent_for(now)
        if quiet is not None and quiet >= seconds:
            silent.add(feed)
    return frozenset(silent)


def _silent(
    threshold: Threshold, when: SilentFeed, now: datetime, runs: FeedRuns | None
) -> Evaluation:
    """Whether feed `when.feed` has gone `when.value` seconds without a successful run."""
    value = None if runs is None else runs.silent_for(now)
    if runs is None or value is None:
        return Evaluation(threshold.id, when.feed, Verdict.UNKNOWN, reason="the feed never ran")
    what = "since its last successful run" if runs.last_success else "and it never succeeded"
    verdict = Verdict.BREACHED if when.holds(value) else Verdict.OK
    reason = (
        f"{value:.0f} s {what} ({'' if verdict is Verdict.BREACHED else 'not '}>= {when.value:g} s)"
    )
    return Evaluation(
        threshold.id, when.feed, verdict, value, int(verdict is Verdict.BREACHED), (), reason
    )


def depth(thresholds: Iterable[Threshold]) -> int:
    """How many newest observations per series evaluation needs (an `elicitation_drop` sign
    compares the newest with the one before it)."""
    return max((max(t.for_, _sign_depth(t)) for t in thresholds), default=1)


def _sign_depth(t: Threshold) -> int:
    return 2 if isinstance(t.when, Sign) and t.when.rule == "elicitation_drop" else 1
