"""Threshold metrics: what each threshold says about each subject, for Prometheus and Grafana.

- `warden_threshold_info{threshold,title,level,domain,severity,scope}` 1 for every threshold.
- `warden_threshold_level{threshold,benchmark,metric,kind}`: the trigger level
  (`kind="trigger"`) and the early-warning level (`kind="warning"`) of every threshold with a
  single benchmark condition, in the metric's canonical unit (for drawing beside the values).
- `warden_threshold_state{threshold,subject,state}`: stateset-style, 1 for the current state and
  0 for the six others, every state always present for every exported subject (a subject with no
  stored state is `inactive`), so alert rules never hinge on a series appearing.
- `warden_threshold_margin{threshold,subject,kind}`: the distance from what the last evaluation
  compared (the newest value, or its confidence bound) to the trigger level (`kind="trigger"`)
  and to the early-warning level (`kind="warning"`), in the metric's canonical unit; positive on
  the safe side, zero or negative once crossed.
- `warden_observation_value{model,benchmark,metric}`: the newest value of each series a
  threshold reads; `warden_frontier_value{benchmark,metric,scope}`: its best over all models
  (`scope="all"`) and over open-weights models (`scope="open_weights"`).
- `warden_threshold_projected_crossing_timestamp_seconds{threshold,percentile,window,since,stale}`,
  `warden_threshold_forecast_data_age_seconds{threshold}` and
  `warden_frontier_doubling_time_seconds{benchmark,metric,scope}`: the forecasts. `window` is
  `projection` (the fit the projection uses) or `beside` (the other window's fit); `since` the
  window as the catalog writes it (`all`, `2010-01-01`, `2y`: a configured, bounded set);
  `stale` `true` when the frontier's newest data are older than its max_age (the dates are then
  where the trend line went, not a forecast).
- `warden_metrics_subjects_omitted`: per-model threshold x subject pairs left out by the
  cardinality rules.

Cardinality, one rule: frontier-scoped thresholds have one subject each and are always exported.
A per-model threshold x subject pair is exported when the subject is in any state but `inactive`
(an alert is never hidden), else only for a model in the registry (`metrics.subjects: registry`,
the default; `all` exports every model) and up to `metrics.max_subjects` such pairs. On a series a
per-model threshold reads, a model's `warden_observation_value` is exported exactly when at least
one of its pairs is, so the cap bounds both and an alerting model's values are always there; on a
series only frontier thresholds read (no pairs), for the registry's models. Left-out pairs are
counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.samples import Sample
from sqlalchemy import Connection

from warden.catalog.conditions import Comparison, Condition, SilentFeed
from warden.catalog.thresholds import Catalog, Threshold
from warden.core.model import Evaluation, State
from warden.forecasting.frontier import ThresholdForecast
from warden.metrics.settings import MetricsSettings
from warden.store import observations as obs_rows
from warden.store import stats

Evaluations = Mapping[tuple[str, str], Evaluation]
STATE = "warden_threshold_state"
STATES = tuple(s.value for s in State)
Forecasts = Mapping[str, ThresholdForecast]


def collect(
    conn: Connection,
    catalog: Catalog,
    evaluations: Evaluations,
    settings: MetricsSettings,
    forecasts: Mapping[str, ThresholdForecast] | None = None,
) -> Iterator[Metric]:
    registry = catalog.registry
    known = registry.models
    every = settings.subjects == "all"

    def wanted(model: str) -> bool:
        return every or model in known

    pairs = {p for t in catalog.thresholds for p in t.pairs}
    newest = obs_rows.series(conn, pairs, 1, ())
    states: dict[str, dict[str, str]] = {}
    for threshold, subject, current, _since in stats.states(conn):
        states.setdefault(threshold, {})[subject] = current

    info = GaugeMetricFamily(
        "warden_threshold_info",
        "Each threshold of the catalog, with its title, level, domain, severity and scope; 1.",
        labels=["threshold", "title", "level", "domain", "severity", "scope"],
    )
    state = GaugeMetricFamily(
        STATE,
        "Alert state per threshold and subject: 1 for the current state, 0 for the others.",
        labels=["threshold", "subject", "state"],
    )
    margin = GaugeMetricFamily(
        "warden_threshold_margin",
        "Distance from the last compared value to the trigger (kind=trigger) or early-warning "
        "(kind=warning) level, in the metric's canonical unit; > 0 on the safe side.",
        labels=["threshold", "subject", "kind"],
    )
    level = GaugeMetricFamily(
        "warden_threshold_level",
        "Trigger (kind=trigger) and early-warning (kind=warning) level of each threshold with a "
        "single benchmark condition, in the metric's canonical unit.",
        labels=["threshold", "benchmark", "metric", "kind"],
    )
    budget, omitted = settings.max_subjects, 0
    shown: set[str] = set()  # models with at least one exported threshold x subject pair
    for t in catalog.thresholds:
        info.add_metric(
            [t.id, t.title, t.level.value, t.domain, t.then.severity, t.scope.value], 1.0
        )
        if isinstance(t.when, Condition):
            for kind, at in _levels(t, t.when):
                level.add_metric([t.id, t.when.benchmark, t.when.metric, kind], at)
        per_model = not t.is_frontier and _per_model(t)
        known_states = states.get(t.id, {})
        for subject in sorted(_subjects(t, newest, known_states)):
            current = known_states.get(subject, State.INACTIVE.value)
            if per_model:
                if current == State.INACTIVE.value:  # alerting pairs are always exported
                    if not wanted(subject) or budget <= 0:
                        omitted += 1
                        continue
                    budget -= 1
                shown.add(subject)
            # Seven samples per subject: appended directly (add_metric zips labels per sample).
            state.samples.extend(
                Sample(
                    STATE,
                    {"threshold": t.id, "subject": subject, "state": s},
                    1.0 if s == current else 0.0,
                )
                for s in STATES
            )
            ev = evaluations.get((t.id, subject))
            for kind, distance in _margins(t, ev):
                margin.add_metric([t.id, subject, kind], distance)
    yield info
    yield level
    yield state
    yield margin

    value = GaugeMetricFamily(
        "warden_observation_value",
        "Newest observed value per model, for the benchmark metrics the catalog's thresholds "
        "read (in the metric's canonical unit): on a series a per-model threshold reads, for the "
        "models with an exported threshold x subject pair; on one only frontier thresholds read, "
        "for the registry's models.",
        labels=["model", "benchmark", "metric"],
    )
    frontier = GaugeMetricFamily(
        "warden_frontier_value",
        "The best newest value among models (scope=all) and among open-weights models "
        "(scope=open_weights), per benchmark metric a threshold reads.",
        labels=["benchmark", "metric", "scope"],
    )
    per_model_series = {p for t in catalog.thresholds if not t.is_frontier for p in t.pairs}
    for (benchmark, metric), by_model in sorted(newest.items()):
        spec = registry.metric(benchmark, metric)[1]
        better = max if spec is None or spec.direction == "higher" else min
        values = {m: points[0].value for m, points in by_model.items()}
        # A series per-model thresholds read: the models with an exported pair (so the cap
        # bounds both); one only frontier thresholds read: the registry's models (bounded).
        exported = shown if (benchmark, metric) in per_model_series else known
        for model, v in sorted(values.items()):
            if model in exported:
                value.add_metric([model, benchmark, metric], v)
        if values:
            frontier.add_metric([benchmark, metric, "all"], better(values.values()))
        open_values = [v for m, v in values.items() if m in known and known[m].open_weights]
        if open_values:
            frontier.add_metric([benchmark, metric, "open_weights"], better(open_values))
    yield value
    yield frontier
    yield from _forecasts(forecasts or {})
    left_out = GaugeMetricFamily(
        "warden_metrics_subjects_omitted",
        "Per-model threshold x subject pairs left out of this scrape by metrics.subjects and "
        "metrics.max_subjects (a left-out model's warden_observation_value series go with them).",
    )
    left_out.add_metric([], float(omitted))
    yield left_out


def _forecasts(forecasts: Mapping[str, ThresholdForecast]) -> Iterator[Metric]:
    crossing = GaugeMetricFamily(
        "warden_threshold_projected_crossing_timestamp_seconds",
        "When the frontier's trend is projected to reach the threshold's trigger value, by "
        "percentile of the bootstrap (10, 50, 90), for the fit the projection uses "
        "(window=projection) and the one beside it (window=beside), fitted from `since`; "
        "stale=true when the newest data are older than the metric's max_age; absent when "
        "beyond the horizon or unknown.",
        labels=["threshold", "percentile", "window", "since", "stale"],
    )
    age = GaugeMetricFamily(
        "warden_threshold_forecast_data_age_seconds",
        "Age of the newest observation of each forecast frontier, as of the last forecast.",
        labels=["threshold"],
    )
    doubling = GaugeMetricFamily(
        "warden_frontier_doubling_time_seconds",
        "Doubling time of the frontier's trend, for metrics that grow without bound (time "
        "horizons, training compute).",
        labels=["benchmark", "metric", "scope"],
    )
    seen = set()
    for threshold, forecast in sorted(forecasts.items()):
        stale = "true" if forecast.stale else "false"
        plan = forecast.plan
        windows = [("projection", plan.main.spec if plan else "all", forecast.trigger)]
        beside = forecast.beside
        if forecast.other_trigger is not None and beside is not None:
            windows.append(("beside", beside.spec, forecast.other_trigger))
        for window, since, p in windows:
            for q, at in p.quantiles.items():
                if at is not None:  # "quantile" is a summaries' label: percentile 10, 50, 90
                    labels = [threshold, f"{q * 100:g}", window, since, stale]
                    crossing.add_metric(labels, at.timestamp())
        if forecast.trigger.age_days is not None:
            age.add_metric([threshold], forecast.trigger.age_days * 86400)
        f, seconds = forecast.frontier, forecast.fit.doubling_seconds
        key = (f.benchmark, f.metric, f.scope.name)
        if seconds is not None and key not in seen:
            seen.add(key)
            doubling.add_metric(list(key), seconds)
    yield crossing
    yield age
    yield doubling


def _per_model(t: Threshold) -> bool:
    """Per-model subjects are models (a feed-silence threshold's subject is its feed)."""
    return not isinstance(t.when, SilentFeed)


def _subjects(t: Threshold, newest: obs_rows.Series, states: Mapping[str, str]) -> set[str]:
    if t.is_frontier:
        return {t.scope.value}
    found = set(states)
    for pair in t.pairs:
        found |= set(newest.get(pair, {}))
    if isinstance(t.when, SilentFeed):
        found.add(t.when.feed)  # a feed-silence threshold: its feed, before any state
    return found


def _levels(t: Threshold, when: Condition) -> Iterator[tuple[str, float]]:
    yield "trigger", when.value
    if t.warn_at is not None:
        yield "warning", t.warn_at


def _margins(t: Threshold, ev: Evaluation | None) -> Iterator[tuple[str, float]]:
    when = t.when
    if ev is None or ev.value is None or not isinstance(when, Comparison):
        return
    newest = ev.evidence[0] if ev.evidence else None
    higher = when.higher_is_more
    compared = t.compared(ev.value, newest.stderr if newest else None, higher)
    levels: list[tuple[str, float | None]] = [("trigger", when.value), ("warning", t.warn_at)]
    for kind, level in levels:
        if level is not None:
            yield kind, (level - compared) if higher else (compared - level)
