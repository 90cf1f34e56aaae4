"""`projected:` thresholds: an early warning ahead of the data when the frontier's trend is
projected to cross the trigger value in time, on real stores; and the forecast metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from tests.support.factories import threshold
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.clock import Clock
from warden.core.model import Observation
from warden.store import observations as obs_rows

CATALOG = """
benchmarks:
  - id: horizon
    title: Time horizon
    metrics: {p50_minutes: {scale: minutes, direction: higher}}
thresholds:
  - id: lab.horizon.projected
    title: Frontier reaches day-long tasks within a year
    domain: ai_rnd_autonomy
    level: early_warning
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50_minutes, op: ">=", value: 480}
    scope: frontier
    projected: {within_days: 365, probability: 0.5}
    provenance:
      when.value: {kind: source, note: "8 hours"}
      projected.within_days: {kind: proxy, note: "a year of lead time"}
      projected.probability: {kind: proxy, note: "more likely than not"}
    then: {severity: warning, mitigations: [Prepare the AI R&D assessment.]}
"""
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make(
    tmp_path: Path, doubling_days: float, clock: Clock | None = None, end: datetime = NOW
) -> Warden:
    (tmp_path / "c.yaml").write_text(CATALOG)
    sink = {"id": "log", "type": "log", "options": {"path": str(tmp_path / "alerts.jsonl")}}
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        sinks=[sink],
    )
    w = Warden(settings, clock=clock or (lambda: NOW))
    # A new frontier model every 60 days for two years, growing with `doubling_days`, ending
    # at 200 minutes on `end`: far below 480, but on a steep trend.
    rows = []
    for i in range(13):
        at = end - timedelta(days=60 * (12 - i))
        value = 200.0 * 2 ** (-(end - at).days / doubling_days)
        rows.append(Observation(f"lab/m{i}", "horizon", "p50_minutes", value, at, f"k{i}", "s",
                                "0" * 64))  # fmt: skip
    with w.store.write() as conn:
        obs_rows.insert_observations(conn, "f", rows, end)
    return w


def test_a_steep_trend_warns_ahead_of_the_data(tmp_path: Path) -> None:
    w = make(tmp_path, doubling_days=120)  # 480 is 1.3 doublings away: about 150 days
    try:
        (ev,) = [e for e in w.evaluate().evaluations if e.threshold == "lab.horizon.projected"]
        assert ev.verdict.value == "warning" and ev.value == pytest.approx(200.0)
        assert ev.reason.startswith("projected crossing: the frontier (value) is projected to")
        assert ev.projection is not None and ev.projection["trigger"]["status"] == "projected"
        assert ev.projection["trigger"]["probability"] >= 0.5
        while w.dispatcher.run_once():
            pass
        w.forecast()
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    (alert,) = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alert["status"] == "warning" and alert["trigger"]["projection"]["fit"]["points"] >= 10
    median = alert["trigger"]["projection"]["trigger"]["quantiles"]["0.5"]
    assert NOW < datetime.fromisoformat(median) < NOW + timedelta(days=365)
    assert (
        'warden_threshold_projected_crossing_timestamp_seconds{percentile="50",since="all",'
        'stale="false",threshold="lab.horizon.projected",window="projection"}'
    ) in text
    doubling = [
        x for x in text.splitlines() if x.startswith("warden_frontier_doubling_time_seconds{")
    ]
    (line,) = doubling
    assert float(line.rsplit(" ", 1)[1]) / 86400 == pytest.approx(120, rel=0.05)


def test_a_slow_trend_does_not_warn(tmp_path: Path) -> None:
    w = make(tmp_path, doubling_days=2000)  # 480 is more than six years away
    try:
        (ev,) = [e for e in w.evaluate().evaluations if e.threshold == "lab.horizon.projected"]
    finally:
        w.close()
    assert ev.verdict.value == "ok" and ev.projection is None


def test_a_year_old_frontier_is_stale_gives_its_past_crossing_and_projected_goes_nodata(
    tmp_path: Path,
) -> None:
    """The trend crosses 480 about 150 days after the newest point; a year later no new model
    has come: no "P = 1.00, median today", the crossing date in the past is given, and the
    `projected` threshold turns nodata instead of warning on."""
    now = [NOW]
    w = make(tmp_path, doubling_days=120, clock=lambda: now[0])
    tid = "lab.horizon.projected"
    try:
        (fresh,) = [e for e in w.evaluate().evaluations if e.threshold == tid]
        assert fresh.verdict.value == "warning"
        now[0] = NOW + timedelta(days=365)
        result = w.evaluate()
        w.forecast()
        forecast = w.forecasts[tid]
    finally:
        w.close()
    (ev,) = [e for e in result.evaluations if e.threshold == tid]
    assert ev.verdict.value == "unknown" and ev.projection is None
    assert ev.reason.startswith(
        "no projection: the newest data of the frontier are 365 days old (max_age 270 d); "
        "the trend line reaches 480 on "
    )
    assert [(t.to_state.value) for _, t in result.transitions] == ["nodata"]
    p = forecast.trigger
    median = p.quantiles[0.5]
    assert (p.status, p.probability, forecast.stale) == ("stale", None, True)
    assert median is not None and NOW < median < now[0]  # crossed by the trend, in the past
    assert p.estimate is not None and abs((p.estimate - NOW).days - 152) <= 5
    assert "no newer data say whether it did" in p.reason


def test_the_forecast_command_says_how_old_the_data_are_and_cuts_no_line_short(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from warden.interfaces.cli.forecast import register
    from warden.interfaces.cli.main import main

    register(main)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    make(tmp_path, doubling_days=120, end=today - timedelta(days=400)).close()
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ncatalog: [{tmp_path / 'c.yaml'}]\n"
    )
    r = CliRunner().invoke(main, ["forecast", "--config", str(cfg)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    data = next(x for x in lines if x.startswith("  data "))
    assert data.endswith("400 days old: stale (max_age 270 d)")
    trigger = next(x for x in lines if x.startswith("  trigger 480 "))
    assert trigger.startswith("  trigger 480   stale: median ") and "(in the past)" in trigger
    assert trigger.endswith("; no probability") and "P(within" not in trigger
    crossed = (today - timedelta(days=400 - 152)).date()
    reason = lines[lines.index(trigger) + 1]
    assert "the trend line reached 480 on " in reason and "days ago" in reason
    assert (
        abs((datetime.fromisoformat(reason.split("reached 480 on ")[1][:10]).date() - crossed).days)
        <= 5
    )
    assert not any(x.rstrip().endswith(("the data are not", ";", ",")) for x in lines)


METR_LIKE = """
benchmark_name: lab-horizon-v2
results:
{entries}
"""


def test_an_ingest_into_a_frontier_refreshes_the_forecasts_at_once(tmp_path: Path) -> None:
    """The forecast job runs every forecast_every; an ingest that touches a forecast frontier
    refreshes the projected crossings (and their metric) without waiting for it."""
    from connectors.metr import MetrHorizons
    from warden.core.model import Payload
    from warden.ingest.connector import sha256

    catalog = CATALOG.replace(
        "{p50_minutes: {scale: minutes, direction: higher}}",
        "{p50_minutes: {scale: minutes, direction: higher, aliases: [p50_horizon_length]}}",
    ).replace("  - id: horizon\n", "  - id: horizon\n    aliases: [lab-horizon-v2]\n")
    (tmp_path / "c.yaml").write_text(catalog)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", catalog=[str(tmp_path / "c.yaml")]
    )
    w = Warden(settings, clock=lambda: NOW)
    entries = "\n".join(
        f"  m{i}:\n    release_date: {(NOW - timedelta(days=60 * (12 - i))).date()}\n"
        f"    metrics: {{p50_horizon_length: {{estimate: {200 * 2 ** (-5 * (12 - i) / 12):.3f}}}}}"
        for i in range(13)
    )
    text = METR_LIKE.format(entries=entries).encode()
    payload = Payload("lab.yaml", text, sha256(text), fetched_at=NOW)
    try:
        assert w.forecasts == {}
        result = w.ingest_payload("lab", MetrHorizons({"source": str(tmp_path)}), payload)
        assert result.ingested == 13, result
        forecast = w.forecasts["lab.horizon.projected"]
        text = generate_latest(w.metrics.registry).decode()
    finally:
        w.close()
    assert forecast.frontier.basis == "release_date" and len(forecast.frontier.points) == 13
    assert forecast.trigger.status == "projected"
    assert (
        'warden_threshold_projected_crossing_timestamp_seconds{percentile="50",since="all",'
        'stale="false",threshold="lab.horizon.projected",window="projection"}'
    ) in text
    assert 'warden_threshold_forecast_data_age_seconds{threshold="lab.horizon.projected"}' in text
    assert 'window="beside"' in text and 'since="2y"' in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": "per_model"},
        {"when": {"all": [{"benchmark": "b", "metric": "m", "op": ">=", "value": 1}]}},
    ],
)
def test_projected_needs_a_single_condition_on_a_frontier(overrides: dict[str, Any]) -> None:
    base = {"scope": "frontier", "projected": {"within_days": 90, "probability": 0.8}}
    with pytest.raises(ValidationError, match="projected: needs a single benchmark condition"):
        if "when" in overrides:
            from warden.catalog.thresholds import Threshold

            data = threshold(**base).model_dump(by_alias=True, mode="json")
            data.update(overrides, warn_at=None)
            Threshold.model_validate(data)
        else:
            threshold(**{**base, **overrides})
