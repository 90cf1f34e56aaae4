"""Fits: trend fits and projected crossings on synthetic series of known growth, bad
input of every kind, and METR's published doubling time recovered from the real samples."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warden.forecasting import fit as forecast
from warden.forecasting.fit import Fit, fit, project
from warden.forecasting.space import KINDS

T0 = datetime(2020, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1400)
Series = list[tuple[datetime, float]]


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def log_series(doubling: float = 200.0, n: int = 30, noise: float = 0.15, seed: int = 1) -> Series:
    """Minutes doubling every `doubling` days from 1 at T0, over 1400 days, with multiplicative
    noise (sd `noise` in log units)."""
    rng = random.Random(seed)
    return [
        (at(d), 2 ** (d / doubling) * math.exp(rng.gauss(0, noise)))
        for d in (1400 * i / (n - 1) for i in range(n))
    ]


def logit_series(slope: float = 1.5, n: int = 25, noise: float = 0.1, seed: int = 2) -> Series:
    """A fraction whose log-odds rise by `slope` a year from -3 at T0."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d = 1400 * i / (n - 1)
        y = -3 + slope * d / 365.25 + rng.gauss(0, noise)
        out.append((at(d), 1 / (1 + math.exp(-y))))
    return out


# -- known growth is recovered ----------------------------------------------------------------


def test_log_linear_fit_recovers_the_doubling_time_within_5_percent() -> None:
    f = fit(log_series(), "minutes")
    assert f.ok and f.kind == "log" and f.n == 30
    assert f.doubling_days == pytest.approx(200, rel=0.05)
    short, long = f.doubling_interval or (None, None)
    assert short is not None and long is not None and short < 200 < long
    assert f.r_squared is not None and f.r_squared > 0.98
    assert (f.start, f.end) == (T0, at(1400))
    assert f.doubling_seconds == pytest.approx(f.doubling_days * 86400)  # type: ignore[operator]


def test_projected_crossing_date_is_within_30_days_of_the_true_one() -> None:
    # 2**10 minutes is reached at 2000 days; the data end at 1400.
    p = project(log_series(), "minutes", 1024, "higher", NOW, within_days=730)
    assert p.status == "projected"
    median, low, high = p.quantiles[0.5], p.quantiles[0.1], p.quantiles[0.9]
    assert median is not None and low is not None and high is not None
    assert abs((median - at(2000)).days) <= 30
    assert low <= at(2000) <= high
    assert p.probability is not None and p.probability > 0.9  # 600 days ahead, within 730
    narrow = project(log_series(), "minutes", 1024, "higher", NOW, within_days=400)
    assert narrow.probability is not None and narrow.probability < 0.1


def test_logit_linear_fit_recovers_the_slope_and_the_crossing_of_0_9() -> None:
    points = logit_series()
    f = fit(points, "fraction")
    assert f.kind == "logit" and f.doubling_days is None
    assert f.slope_per_year == pytest.approx(1.5, rel=0.05)
    true_days = (math.log(0.9 / 0.1) + 3) / 1.5 * 365.25  # logit(0.9) = 2.197: about 1266 days
    p = f.project(0.9, at(1000), within_days=365)
    median = p.quantiles[0.5]
    assert p.status == "projected" and median is not None
    assert abs((median - at(true_days)).days) <= 30
    percent = fit([(t, v * 100) for t, v in points], "percent")
    assert percent.slope_per_year == pytest.approx(f.slope_per_year)
    assert percent.value_at(at(700)) == pytest.approx(100 * f.value_at(at(700)))  # type: ignore[operator]


def test_same_seed_gives_identical_output_and_another_seed_only_another_interval() -> None:
    a = fit(log_series(), "minutes", seed=7)
    b = fit(list(reversed(log_series())), "minutes", seed=7)  # out of time order: sorted
    assert a == b and a.as_dict() == b.as_dict()
    assert a.project(1024, NOW, 365).as_dict() == b.project(1024, NOW, 365).as_dict()
    c = fit(log_series(), "minutes", seed=8)
    assert c.slope_per_year == a.slope_per_year  # the fit itself does not depend on the seed
    assert c.slope_interval != a.slope_interval


def test_a_single_outlier_barely_moves_the_robust_fit() -> None:
    points = log_series(noise=0.05)
    points[20] = (points[20][0], points[20][1] * 30)  # 30x the trend, below the level
    f = fit(points, "minutes")
    assert f.doubling_days == pytest.approx(200, rel=0.05)
    p = f.project(1024, NOW, 730)
    assert p.quantiles[0.5] is not None and abs((p.quantiles[0.5] - at(2000)).days) <= 30


def test_linear_scale_and_lower_direction() -> None:
    elo = [(at(d), 1000 + 0.5 * d) for d in range(0, 1000, 50)]
    f = fit(elo, "elo")
    assert f.kind == "linear" and f.slope_per_year == pytest.approx(0.5 * 365.25)
    p = f.project(1600, at(1000), 365)
    assert p.quantiles[0.5] == at(1200)
    falling = [(at(d), 0.8 * 2 ** (-d / 300)) for d in range(0, 900, 60)]
    down = fit(falling, "fraction", "lower")
    q = down.project(0.05, at(900), 3650)
    assert q.status == "projected" and q.quantiles[0.5] is not None
    assert q.quantiles[0.5] > at(900)
    assert fit(falling, "fraction", "higher").project(0.95, at(900), 365).status == "not_projected"


# -- bad input: explained, never raised, never absurd ---------------------------------------


def test_too_few_points_give_no_forecast_and_say_why() -> None:
    f = fit(log_series()[:3], "minutes")
    assert not f.ok and "too few points: 3" in f.reason
    p = f.project(1024, NOW, 365)
    assert (p.status, p.probability) == ("no_forecast", None)  # None: unknown, never "0"
    assert "too few points" in p.reason and p.quantiles == dict.fromkeys(forecast.QUANTILES)
    same_time = [(T0, 1.0), (T0, 2.0), (at(1), 3.0), (at(1), 4.0)]
    assert "2 distinct times" in fit(same_time, "minutes").reason
    assert fit([], "minutes").project(1, NOW, 1).status == "no_forecast"


def test_all_equal_values_are_no_trend() -> None:
    f = fit([(at(d), 5.0) for d in range(0, 500, 50)], "minutes")
    assert not f.ok and "do not change" in f.reason
    assert f.project(10, NOW, 365).status == "no_forecast"
    assert f.project(5, NOW, 365).status == "crossed"  # the level is met already


def test_values_at_the_edge_of_a_bounded_scale_are_left_out_and_named() -> None:
    points = [*logit_series(), (at(1400), 1.0), (at(10), 0.0)]
    f = fit(points, "fraction")
    assert f.ok and f.n == 25
    assert f.notes == ("2 points not inside (0, 1) (logit undefined) left out",)
    assert f.project(0.99, at(1400), 365).status == "crossed"  # 1.0 was observed
    edges = fit([(at(d), float(d % 2)) for d in range(10)], "fraction")
    assert not edges.ok and "too few points: 0" in edges.reason
    assert "0 (log undefined)" in fit([(at(d), 0.0) for d in range(5)], "minutes").notes[0]


def test_a_level_the_scale_cannot_reach_gives_no_forecast() -> None:
    p = fit(logit_series(), "fraction").project(1.0, at(900), 365)
    assert p.status == "no_forecast" and "never reaches 1 on a fraction scale" in p.reason


def test_a_shrinking_or_glacial_trend_is_not_projected_and_dates_stay_sane() -> None:
    shrinking = [(at(d), 100 * 2 ** (-d / 200)) for d in range(0, 1000, 50)]
    p = fit(shrinking, "minutes").project(1000, at(1000), 365)
    assert (p.status, p.probability) == ("not_projected", 0.0)
    assert "the trend does not grow" in p.reason and p.quantiles[0.5] is None
    glacial = [(at(d), 2 ** (d / 1e6)) for d in range(0, 1000, 50)]
    q = fit(glacial, "minutes").project(1e12, at(1000), 365)
    assert q.status == "not_projected" and f"{forecast.HORIZON_YEARS} years" in q.reason


def test_wide_uncertainty_and_stale_data_are_said() -> None:
    few = [(at(0), 1.0), (at(100), 8.0), (at(200), 1.5), (at(300), 3.0), (at(400), 2.0)]
    p = fit(few, "minutes").project(100, at(400), 365)
    assert "wide uncertainty" in p.reason or "does not grow" in " ".join(p.fit.notes)
    old = fit(log_series(), "minutes").project(10**6, at(1400 + 400), 365)
    assert "the newest point is 400 days old" in old.reason


def test_a_trend_line_past_the_level_gives_the_past_date_not_today() -> None:
    # The trend reaches 200 at 200 * log2(200) = 1529 days; the data (to day 1400) have not.
    p = fit(log_series(), "minutes").project(200, at(1600), 365)
    median, estimate = p.quantiles[0.5], p.estimate
    assert p.status == "projected" and median is not None and estimate is not None
    assert abs((estimate - at(1529)).days) <= 30 and median < at(1600)
    assert p.in_the_past and "days ago; the data have not" in p.reason
    assert not p.reason.endswith("the data are not")


def test_stale_data_give_dates_but_no_probability() -> None:
    # The newest point is 400 days old, over a max_age of 270: no "P = 1.00, median today".
    p = fit(log_series(), "minutes").project(200, at(1800), 365, max_age_days=270)
    assert (p.status, p.probability, p.stale) == ("stale", None, True)
    assert p.age_days == pytest.approx(400) and p.max_age_days == 270
    assert p.quantiles[0.5] is not None and p.quantiles[0.5] < at(1600)
    assert p.reason.startswith("the newest point is 400 days old (max_age 270 d): stale")
    assert "no newer data say whether it did" in p.reason
    assert p.as_dict()["age_days"] == pytest.approx(400)
    fresh = fit(log_series(), "minutes").project(2048, at(1500), 365, max_age_days=270)
    assert fresh.status == "projected" and fresh.probability is not None
    crossed = fit(log_series(), "minutes").project(100, at(1800), 365, max_age_days=270)
    assert crossed.status == "crossed"  # a crossing in the data is not stale


def test_least_squares_and_theil_sen_agree_on_clean_data_and_differ_on_an_outlier() -> None:
    clean = log_series(noise=0.05)
    ols = fit(clean, "minutes", method="ols")
    assert ols.method == "ols" and ols.doubling_days == pytest.approx(200, rel=0.05)
    assert ols.as_dict()["method"] == "ols"
    spiked = [*clean[:-1], (clean[-1][0], clean[-1][1] * 1000)]  # the newest point 1000x
    robust = fit(spiked, "minutes").doubling_days or 0
    squares = fit(spiked, "minutes", method="ols").doubling_days or 0
    assert robust == pytest.approx(200, rel=0.05) and squares < 0.9 * robust


def test_a_window_with_too_few_points_or_too_short_a_span_gives_no_fit() -> None:
    points = log_series()  # 30 points over 1400 days, one every 48 days
    late = fit(points, "minutes", since=at(1300))
    assert not late.ok and "too few points: 3" in late.reason and late.since == at(1300)
    assert not fit(points, "minutes", min_points=31).ok
    short = fit(points, "minutes", since=at(1200), min_span_days=365)
    assert not short.ok and short.reason == (
        "the points span 193 days (a fit needs 365 days at least)"
    )
    assert fit(points, "minutes", since=at(700), min_span_days=365).ok


def test_crossed_levels_report_the_first_point_that_met_them() -> None:
    points = log_series()
    p = project(points, "minutes", 100, "higher", NOW, 365)
    first = next(t for t, v in sorted(points) if v >= 100)
    assert (p.status, p.crossed_at, p.probability) == ("crossed", first, 1.0)
    assert p.quantiles[0.5] == first


def test_points_after_now_do_not_count_and_nan_is_ignored() -> None:
    points = [*log_series(), (at(1500), 10**9), (at(700), math.nan), (at(800), math.inf)]
    p = project(points, "minutes", 10**8, "higher", NOW, 365)
    assert p.status == "projected" and p.fit.n == 30


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-5000, 5000),
            st.floats(allow_nan=True, allow_infinity=True, width=32)
            | st.sampled_from([0.0, 1.0, 100.0]),
        ),
        max_size=12,
    ),
    st.sampled_from(sorted(KINDS)),
    st.floats(-1e6, 1e6),
    st.sampled_from(["higher", "lower"]),
)
def test_any_input_gives_a_sane_projection_or_a_reason(
    raw: list[tuple[int, float]], scale: str, level: float, direction: forecast.Direction
) -> None:
    p = fit([(at(d), v) for d, v in raw], scale, direction, samples=100).project(level, NOW, 365)
    assert p.status in ("crossed", "projected", "not_projected", "no_forecast")
    assert (p.probability is None) == (p.status == "no_forecast")
    assert p.probability is None or 0 <= p.probability <= 1
    dates = [p.quantiles[q] for q in forecast.QUANTILES]
    known = [d for d in dates if d is not None]
    assert known == sorted(known) and all(d.year < NOW.year + 60 for d in known)
    assert p.status != "no_forecast" or p.reason


def test_unknown_scale_gives_no_fit() -> None:
    f = fit(log_series(), None)
    assert not f.ok and "no fit for the scale None" in f.reason
    assert f.value_at(NOW) is None and f.band(NOW) is None


def test_long_series_use_fewer_resamples_and_stay_fast() -> None:
    f = fit(log_series(n=400, seed=3), "minutes", samples=1000)
    assert forecast.MIN_SAMPLES <= f.samples < 1000
    assert f.doubling_days == pytest.approx(200, rel=0.05)


def test_band_contains_the_fit_and_as_dict_is_json_ready() -> None:
    import json

    f: Fit = fit(log_series(), "minutes")
    low, high = f.band(at(1600)) or (0.0, 0.0)
    assert low < (f.value_at(at(1600)) or 0) < high
    doc = json.loads(json.dumps(f.as_dict()))
    assert doc["window"] == {"since": None, "start": T0.isoformat(), "end": at(1400).isoformat()}
    assert doc["bootstrap"] == {"seed": 0, "samples": forecast.SAMPLES}


# -- real data: METR's doubling time -------------------------------------------------------

PUBLISHED_DAYS = 212  # METR (March 2025): the 50% time horizon doubles about every 7 months
TOLERANCE_ALL = 0.25  # 2019-2025 with models METR measured since: within 25 %
TOLERANCE_PAPER = 0.10  # the paper's own window (models up to March 2025): within 10 %


@pytest.mark.realdata
def test_metr_doubling_time_agrees_with_the_published_seven_months(
    samples: Path, tmp_path: Path
) -> None:
    """Epoch's METR CSV and METR's YAML files through the real connectors and the bundled
    registry; the 50% horizon's frontier by release date, 2019-2025, log-linear Theil-Sen."""
    from tests.support.realfeeds import ingest
    from thresholds import bundled_registry
    from warden.catalog.thresholds import load_catalog
    from warden.forecasting.frontier import FrontierScope, series
    from warden.store import Store

    registry = load_catalog([], [bundled_registry()]).registry
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    ingest(store, registry, samples, tmp_path)
    with store.read() as conn:
        frontier = series(conn, "metr_time_horizon", "p50_minutes", FrontierScope(), registry)
    store.dispose()
    assert frontier.basis == "release_date" and frontier.scale == "minutes"
    assert frontier.points[0].subject == "openai/gpt2" and frontier.points[0].at.year == 2019
    start, end = datetime(2019, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    whole = fit(frontier.pairs(), frontier.scale, since=start, until=end)
    paper = fit(
        frontier.pairs(), frontier.scale, since=start, until=datetime(2025, 3, 31, tzinfo=UTC)
    )
    for name, f in (("2019-2025", whole), ("2019 to March 2025", paper)):
        short, long = f.doubling_interval or (0, 0)
        print(
            f"METR p50 doubling time, {name}: {f.doubling_days:.0f} days "
            f"(p10-p90 {short:.0f}-{long:.0f}), {f.n} frontier models, R² {f.r_squared:.3f}"
        )
    assert 12 <= whole.n <= 17 and 9 <= paper.n <= 14  # 16 and 13 with the registry of now
    assert whole.doubling_days == pytest.approx(PUBLISHED_DAYS, rel=TOLERANCE_ALL)
    assert paper.doubling_days == pytest.approx(PUBLISHED_DAYS, rel=TOLERANCE_PAPER)
    assert whole.r_squared is not None and whole.r_squared > 0.9


# -- the command --------------------------------------------------------------------------------

CLI_CATALOG = """
benchmarks:
  - {id: horizon, title: H, metrics: {p50: {direction: higher, scale: minutes}}}
thresholds:
  - id: test.horizon.frontier
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {benchmark: horizon, metric: p50, op: ">=", value: 480}
    warn_at: 240
    scope: frontier
    then: {severity: critical}
  - id: test.reassess
    title: T
    domain: test
    level: high
    sources: [{title: S, url: "https://example.org/"}]
    when: {since_assessment: {days: 30}}
    then: {severity: critical}
"""


# The command reads the system clock: the data end ten days ago.
LAST = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)


def released(i: int) -> datetime:
    """Model i of 15, one every 100 days, the last released on LAST."""
    return LAST - timedelta(days=100 * (14 - i))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A store holding a horizon that doubles every 200 days, by release date (METR-like): 128
    minutes on LAST, so 480 is due 381 days later."""
    from warden.catalog.thresholds import load_catalog
    from warden.core.model import Observation
    from warden.interfaces.cli.forecast import register
    from warden.interfaces.cli.main import main
    from warden.store import Store
    from warden.store import observations as obs_rows

    register(main)
    (tmp_path / "catalog.yaml").write_text(CLI_CATALOG)
    cfg = tmp_path / "warden.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ncatalog: [{tmp_path / 'catalog.yaml'}]\n"
    )
    registry = load_catalog([tmp_path / "catalog.yaml"]).registry
    fetched = {"timestamp_kind": "fetched"}
    items = [
        Observation(
            f"m{i}",
            "horizon",
            "p50",
            128 * 2 ** ((i - 14) / 2),
            LAST,
            f"k{i}",
            "t",
            "0" * 64,
            attributes={**fetched, "release_date": released(i).date().isoformat()},
        )
        for i in range(15)
    ]
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    with store.write() as conn:
        obs_rows.insert_observations(conn, "f", [registry.normalise(o) for o in items], NOW)
    store.dispose()
    return cfg


def warden(*args: str | Path) -> Any:
    from click.testing import CliRunner

    from warden.interfaces.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_forecast_command_shows_the_frontier_growth_and_crossings(config: Path) -> None:
    r = warden("forecast", "--config", config)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == ("test.horizon.frontier  (all; horizon/p50 >= 480, by release date)")
    due = (LAST + timedelta(days=381)).date()
    assert lines[1].startswith(f"  frontier now  128 minutes  m14, {LAST.date()}  (15 records")
    assert lines[2] == f"  data          newest {LAST.date()}, 10 days old: current (max_age 270 d)"
    assert "doubling every 200 days" in lines[3] and "15 points, R² 1.00" in lines[3]
    assert (
        "Theil-Sen fit over " in lines[3] and "(window: all, the default for minutes)" in lines[3]
    )
    assert lines[4].startswith(f"  beside        since {LAST.year - 1}: doubling every 200 days")
    assert lines[5].startswith(f"  trigger 480   projected: median {due}, p10 {due}, p90 {due};")
    assert lines[5].endswith("P(within 365 d) 0.00")
    assert lines[6].startswith(
        f"  warning 240   projected: median {(LAST + timedelta(181)).date()}"
    )
    assert lines[-1] == "1 thresholds have no benchmark condition to forecast"
    doc = json.loads(warden("forecast", "--json", "--config", config).output)
    (only,) = doc["forecasts"]
    assert only["frontier"]["basis"] == "release_date" and doc["not_forecast"] == ["test.reassess"]
    assert only["fit"]["doubling_days"] == pytest.approx(200)
    assert only["trigger"]["status"] == "projected"


def test_forecast_command_fits_the_window_it_is_given_and_shows_the_catalogs_beside(
    config: Path,
) -> None:
    r = warden("forecast", "--window", "730d", "--method", "ols", "--config", config)
    assert r.exit_code == 0, r.output
    growth = next(x for x in r.output.splitlines() if x.startswith("  growth "))
    assert "least-squares fit since " in growth and "(window: 730d, the command line's)" in growth
    assert "8 points" in growth  # one model every 100 days: 8 in the last 730 days
    beside = next(x for x in r.output.splitlines() if x.startswith("  beside "))
    assert beside.startswith("  beside        over ") and "15 points" in beside
    doc = json.loads(warden("forecast", "--json", "--since", "all", "--config", config).output)
    assert doc["forecasts"][0]["plan"]["origin"] == "command line's"
    for args, message in [
        (("--since", "2024", "--window", "2y"), "--since and --window both set the fit window"),
        (("--since", "2y"), "a length is --window"),
        (("--window", "2024-01-01"), "a length such as 2y or 730d"),
        (("--since", "2024-02-30"), "a date (2024-01-01), a year (2024) or `all`"),
    ]:
        bad = warden("forecast", *args, "--config", config)
        assert bad.exit_code == 2 and message in bad.output, bad.output


def test_forecast_command_refuses_unknown_and_unforecastable_thresholds(config: Path) -> None:
    r = warden("forecast", "--threshold", "test.horizon.frontie", "--config", config)
    assert r.exit_code == 2 and "did you mean 'test.horizon.frontier'?" in r.output
    r = warden("forecast", "--threshold", "test.reassess", "--config", config)
    assert r.exit_code == 2 and "has no benchmark condition to forecast" in r.output


def test_plot_without_matplotlib_exits_2_naming_the_extra(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    r = warden("forecast", "--plot", "out.png", "--config", config)
    assert r.exit_code == 2
    assert "--plot needs matplotlib: pip install 'warden[plot]'" in r.output


def test_plot_draws_an_svg_or_png(config: Path, tmp_path: Path) -> None:
    r = warden("forecast", "--plot", tmp_path / "f.pdf", "--config", config)
    assert r.exit_code == 2 and "must end in .svg or .png" in r.output
    pytest.importorskip("matplotlib")
    r = warden("forecast", "--plot", tmp_path / "f.svg", "--config", config)
    assert r.exit_code == 0, r.output
    svg = (tmp_path / "f.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "test.horizon.frontier" in svg
