"""The exposition writes byte for byte what prometheus_client writes, in the text format and in
OpenMetrics: for every family type, for arbitrary gauge families, for a real daemon's registry,
and through `/metrics`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.samples import Exemplar, Timestamp

from tests.metrics.test_collector import CATALOG as METRICS_CATALOG
from tests.support.server import serving
from warden.app.daemon import Warden
from warden.app.settings import Settings
from warden.core.model import Observation
from warden.metrics import exposition
from warden.metrics.exposition import render
from warden.store import observations as obs_rows

FORMATS = pytest.mark.parametrize("om", [False, True], ids=["text", "openmetrics"])
ODD = 'back\\slash "quoted" new\nline é 🚀 %s {x}'
VALUES = [
    0.0, -0.0, 1.0, 42, True, 0.1, -2.5, 1e-9, 999999.9, 1e6, 1234567.0, 1.5e16, 1e22, -1e22,
    math.nan, math.inf, -math.inf, 2**60,
]  # fmt: skip


class Families:
    """A registry of families made beforehand, yielded the same on every collect."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def expected(registry: object, om: bool) -> bytes:
    if om:
        written: bytes = openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call]
        return written
    return generate_latest(registry)  # type: ignore[arg-type]


def custom_families() -> list[Metric]:
    plain = GaugeMetricFamily("plain_gauge", "A gauge without labels.", value=3)
    odd = GaugeMetricFamily(
        "odd_gauge", f"Help with {ODD}.", labels=["zeta", "alpha", "mid", "__reserved"]
    )
    for i, v in enumerate(VALUES):
        odd.add_metric([ODD, f"v{i}", "", "x"], v)
    # samples named otherwise than the family, other label sets, a name the formats escape
    mixed = GaugeMetricFamily("mixed_gauge", "Mixed samples.", labels=["a"])
    mixed.add_metric(["1"], 1.0)
    mixed.add_sample("mixed_gauge", {"b": "2", "a": "1"}, 2.0)
    mixed.add_sample("mixed_gauge", {"c": "3"}, 3.0)
    mixed.add_sample("mixed_gauge", {"d": "4"}, 3.5)  # same size, other label
    mixed.add_sample("mixed_gauge_other", {}, 4.0)
    mixed.add_sample("mixed_gauge", {"a": "again"}, 5.0)
    created = GaugeMetricFamily("moved_gauge", "Has a _created sample.", labels=["a"])
    created.add_metric(["1"], 1.0)
    created.add_sample("moved_gauge_created", {"a": "1"}, 1700000000.0)
    colon = GaugeMetricFamily("rule:colon:gauge", "A recording-rule name.", labels=["a"])
    colon.add_metric(["1"], 1.0)
    dotted = GaugeMetricFamily("utf8.gauge", "A UTF-8 name.", labels=["label.dot"])
    dotted.add_metric(["1"], 1.0)
    stamped = GaugeMetricFamily("stamped_gauge", "A gauge with timestamps.", labels=["a"])
    stamped.add_metric(["1"], 1.0, timestamp=1700000000.5)
    stamped.add_metric(["2"], 2.0, timestamp=Timestamp(1700000000, 5))
    late = GaugeMetricFamily("late_stamp_gauge", "Only the last sample has one.", labels=["a"])
    late.add_metric(["1"], 1.0)
    late.add_metric(["2"], 2.0, timestamp=17.0)
    unit = GaugeMetricFamily("span_seconds", "A gauge with a unit.", labels=["a"], unit="seconds")
    unit.add_metric(["1"], 0.25)
    unknown = UnknownMetricFamily("mystery", "Untyped.", labels=["a"])
    unknown.add_metric([ODD], math.nan)
    stateset = StateSetMetricFamily("traffic", "A stateset.", labels=["where"])
    stateset.add_metric(["here"], {"red": True, "green": False})
    counter = CounterMetricFamily("jobs", "A counter.", labels=["kind"], created=None)
    counter.add_metric(["a"], 3, created=1700000000.0)
    counter.add_metric(["b"], 4, exemplar=Exemplar({"trace": ODD}, 1.0, 1700000000.0))
    histogram = HistogramMetricFamily("latency_seconds", "A histogram.", labels=["path"])
    histogram.add_metric(
        ["/x"], [("0.1", 1, Exemplar({"trace": "t"}, 0.05)), ("+Inf", 3)], sum_value=1.5
    )
    info = InfoMetricFamily("build", "Build info.", labels=["host"])
    info.add_metric(["h"], {"version": ODD})
    return [
        plain, odd, mixed, created, colon, dotted, stamped, late, unit, unknown, stateset,
        counter, histogram, info,
    ]  # fmt: skip


def every_type_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    Counter("requests", "Requests.", ["code"], registry=registry).labels("200").inc(3)
    Counter("unlabelled", "No labels.", registry=registry).inc()
    g = Gauge("temperature_celsius", "Labels in given order.", ["zone", "building"],
              registry=registry, unit="celsius")  # fmt: skip
    for zone, v in [(ODD, math.inf), ("b", -math.inf), ("c", math.nan), ("d", 1e300)]:
        g.labels(zone, "hq").set(v)
    Gauge("bare", "A gauge without labels.", registry=registry).set(7)
    Histogram("duration_seconds", "A histogram.", registry=registry).observe(0.3)
    Summary("size_bytes", "A summary.", ["kind"], registry=registry).labels("x").observe(12)
    Info("version", "An info.", registry=registry).info({"release": ODD})
    Enum("phase", "An enum.", states=["a", "b"], registry=registry).state("b")
    registry.register(Families(custom_families()))
    return registry


@FORMATS
def test_every_family_type_is_written_as_prometheus_client_writes_it(om: bool) -> None:
    registry = every_type_registry()
    assert render(registry, openmetrics=om) == expected(registry, om)


@FORMATS
def test_plain_gauges_take_the_fast_path(om: bool) -> None:
    """The families written here, not by prometheus_client: the point of the module."""
    fast = {
        f.name
        for f in custom_families()
        if exposition._sample_lines(f, om, exposition._Escapes()) is not None
    }
    always = {"plain_gauge", "odd_gauge", "mixed_gauge", "span_seconds", "mystery", "traffic"}
    # the text format moves a gauge's `_created` samples: prometheus_client does that
    assert fast == always | ({"moved_gauge"} if om else set())


def test_a_sample_without_a_value_is_left_to_prometheus_client() -> None:
    family = GaugeMetricFamily("novalue", "Value None.", labels=["a"])
    family.add_sample("novalue", {"a": "1"}, None)  # type: ignore[arg-type]
    registry = Families([family])
    assert render(registry, openmetrics=True) == expected(registry, True)
    with pytest.raises(TypeError):
        render(registry, openmetrics=False)  # as generate_latest raises


def test_an_empty_registry() -> None:
    assert render(Families([]), openmetrics=False) == b""
    assert render(Families([]), openmetrics=True) == b"# EOF\n"


plain_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
names = st.one_of(plain_names, st.text(min_size=1, max_size=8))
numbers = st.one_of(
    st.floats(), st.integers(-(2**70), 2**70), st.sampled_from(VALUES), st.booleans()
)


@st.composite
def gauge_families(draw: st.DrawFn) -> Metric:
    name = draw(names)
    kind = draw(st.sampled_from(["gauge", "gauge", "unknown", "stateset"]))
    family = Metric(name, draw(st.text()), kind, draw(st.sampled_from(["", "", "bytes"])))
    label_names = draw(st.lists(names, max_size=4, unique=True))
    sample_names = [family.name, family.name + "_created", family.name + "_x", draw(names)]
    for _ in range(draw(st.integers(0, 6))):
        chosen = draw(st.permutations(label_names))[: draw(st.integers(0, len(label_names)))]
        family.add_sample(
            draw(st.sampled_from(sample_names[:1] * 6 + sample_names[1:])),
            {k: draw(st.text()) for k in chosen},
            draw(numbers),
            draw(st.sampled_from([None] * 8 + [1.5])),
        )
    return family


@settings(max_examples=300, deadline=None)
@given(st.lists(gauge_families(), max_size=4), st.booleans())
def test_any_gauge_families_are_written_as_prometheus_client_writes_them(
    families: list[Metric], om: bool
) -> None:
    registry = Families(families)
    assert render(registry, openmetrics=om) == expected(registry, om)


# tests/metrics/test_collector.py's catalog, with a title to escape and one more model.
CATALOG = METRICS_CATALOG.replace(
    "title: Frontier crossed", """title: 'Frontier "crossed"'"""
).replace(
    "thresholds:", "  - {id: acme/mid, open_weights: false, organisation: Acme}\nthresholds:", 1
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def daemon(tmp_path: Path) -> Warden:
    """A daemon on a SQLite file whose per-model threshold is breached, warned and ok."""
    (tmp_path / "c.yaml").write_text(CATALOG)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        catalog=[str(tmp_path / "c.yaml")],
        metrics={"subjects": "all"},
    )
    w = Warden(settings, clock=lambda: NOW)
    for model, value, stderr in [
        ("acme/open", 0.55, 0.05), ("acme/closed", 0.9, None), ("acme/mid", 0.1, None),
        ("lab/unknown", 0.2, None),
    ]:  # fmt: skip
        o = Observation(
            model, "lab_eval", "accuracy", value, NOW, f"k-{model}", "s", "0" * 64, stderr
        )
        with w.store.write() as conn:
            obs_rows.insert_observations(conn, "f", [w.catalog.registry.normalise(o)], NOW)
    w.sweep()
    return w


@FORMATS
def test_a_daemons_registry_is_written_as_prometheus_client_writes_it(
    tmp_path: Path, om: bool
) -> None:
    w = daemon(tmp_path)
    try:
        # One collection, replayed: the process collector's figures move between two.
        families = list(w.metrics.registry.collect())
    finally:
        w.close()
    names = {f.name for f in families}
    assert {"warden_threshold_state", "warden_threshold_margin", "warden_triggers"} <= names
    registry = Families(families)
    got = render(registry, openmetrics=om)
    assert got == expected(registry, om)
    assert b'warden_threshold_state{state="firing",subject="acme/closed"' in got


def masked(body: bytes) -> bytes:
    """The exposition with the process collector's values (which move between two collections)
    blanked."""
    return re.sub(rb"(?m)^(process_\S+) \S+$", rb"\1 _", body)


def test_metrics_endpoint_serves_prometheus_client_bytes_in_both_formats(tmp_path: Path) -> None:
    w = daemon(tmp_path)
    registry = w.metrics.registry
    accept = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
    with serving(w) as base:
        text = requests.get(f"{base}/metrics", timeout=10)
        text_expected = generate_latest(registry)
        om = requests.get(f"{base}/metrics", headers=accept, timeout=10)
        om_expected = expected(registry, True)
    assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert om.headers["content-type"] == openmetrics.CONTENT_TYPE_LATEST
    assert masked(text.content) == masked(text_expected)
    assert masked(om.content) == masked(om_expected)
    assert om.content.endswith(b"# EOF\n") and om.content.count(b"# EOF") == 1
    assert b"process_cpu_seconds_total " in text.content  # the mask hides values, not lines
