"""The `/metrics` body: exactly what prometheus_client writes, in the Prometheus text format or
OpenMetrics 1.0, but with plain gauge families written by plain string formatting.

Warden's threshold families hold tens of thousands of gauge samples, and prometheus_client's
per-sample code (name checks, `str.format`, float formatting) was most of a scrape's time. A
family of type gauge, unknown or stateset whose samples carry no timestamp, exemplar or native
histogram, and whose sample and label names are plain `[a-zA-Z_][a-zA-Z0-9_]*` (written as they
are in both formats), gets its sample lines from one `%` template per name and label set. Its
HELP/TYPE/UNIT header, and every other family whole (counters with their `_total`/`_created`,
histograms, summaries, info, anything with timestamps or exemplars), are written by
prometheus_client itself, one family at a time, so its naming and escaping rules stay its own.

Why hand-written (measured with perf/scrape.py at its target size, 10,010 stateset series, 13,698
lines, 1.4 MB; its target is a scrape p50 < 200 ms in both formats): with prometheus_client's
`generate_latest` writing `/metrics`, a scrape took 1.8-2.0x the same run's `generate_latest` of
the same series in the text format and 1.3-1.7x its OpenMetrics one; written here, 0.86-1.06x
and 0.48-0.49x. On the 2-core (shared) perf machine that was p50 224-353 ms (text) and 300-469
ms (OpenMetrics, the format Prometheus asks for) with the library, both over the target,
against 150-159 ms and 116-160 ms with this module. Scaled to a quiet run's `generate_latest`
(73 ms, 116 ms OpenMetrics), the library would scrape in about 135-150 ms and 150-195 ms: no
margin in OpenMetrics. In one process (CPU time, best of 30, collection and gzip included):
136 ms with the library vs 61 ms here (text), 188 ms vs 58 ms (OpenMetrics). perf/scrape.py
times `render` beside `generate_latest` on every run, so the gain stays measured.

The price: it reads prometheus_client's samples as six fields (name, labels, value, timestamp,
exemplar, native histogram). tests/metrics/test_exposition.py holds `render` byte for byte to
prometheus_client (every family type, generated families, a daemon's registry), so a library
release that changes them fails the tests, not a scrape.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from operator import itemgetter

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

FAST_TYPES = frozenset({"gauge", "unknown", "stateset"})
PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
EOF = "# EOF\n"
# The text format moves a family's samples with these suffixes into gauges of their own.
MOVED_SUFFIXES = ("_created", "_gsum", "_gcount")

go_float: Callable[[float], str] = floatToGoString  # untyped in prometheus_client

Labels = Mapping[str, str]
Shape = tuple[str, Callable[[Labels], tuple[str, ...]]]


def render(registry: Collector, openmetrics: bool) -> bytes:
    """`registry`'s exposition, byte for byte what prometheus_client's `generate_latest` (or the
    OpenMetrics one when `openmetrics`) writes, collecting the registry once."""
    out: list[str] = []
    escape = _Escapes()
    for family in registry.collect():
        lines = _sample_lines(family, openmetrics, escape)
        if lines is None:
            out.append(_by_prometheus_client(family, openmetrics))
        else:
            header = copy.copy(family)
            header.samples = []
            out.append(_by_prometheus_client(header, openmetrics))
            out.extend(lines)
    if openmetrics:
        out.append(EOF)
    return "".join(out).encode("utf-8")


def _sample_lines(family: Metric, openmetrics: bool, escape: _Escapes) -> list[str] | None:
    """The family's sample lines, or None when prometheus_client must write the family."""
    if family.type not in FAST_TYPES:
        return None
    moved = () if openmetrics else tuple(family.name + s for s in MOVED_SUFFIXES)
    lines: list[str] = []
    # The current shape (sample name and label names) and its template; a family rarely has
    # more than one, so it is rebuilt on a change rather than looked up per sample.
    shape_name, shape_size, line = "", -1, ""
    values: Callable[[Labels], tuple[str, ...]] = _no_values
    for name, labels, value, timestamp, exemplar, native in family.samples:
        if timestamp is not None or exemplar is not None or native is not None:
            return None
        try:
            # Same size and every label name of the template present: the same label names.
            label_values = values(labels)
        except KeyError:
            shape_size = -1
        if name != shape_name or len(labels) != shape_size:
            shape = _shape(name, labels, moved)
            if shape is None:
                return None
            shape_name, shape_size, (line, values) = name, len(labels), shape
            label_values = values(labels)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None  # prometheus_client says what it makes of that (None in OpenMetrics)
        # floatToGoString is repr() but for NaN, ±Inf and values from 1e6 up (Go's exponents);
        # the comparison is false for NaN and the infinities.
        shown = repr(number) if -1e6 < number < 1e6 else go_float(number)
        lines.append(line % (*map(escape.__getitem__, label_values), shown))
    return lines


def _shape(name: str, labels: Labels, moved: tuple[str, ...]) -> Shape | None:
    """The `%` template of a sample line (label values, then the value) and a function giving
    the label values in the template's order (sorted by name, as prometheus_client sorts them);
    None unless every name is written unchanged by both formats."""
    names = sorted(labels)
    if name in moved or not all(PLAIN_NAME.fullmatch(n) for n in [name, *names]):
        return None
    if not names:
        return f"{name} %s\n", _no_values
    pairs = ",".join(f'{n}="%s"' for n in names)
    if len(names) == 1:
        (only,) = names
        return f"{name}{{{pairs}}} %s\n", lambda labels: (labels[only],)
    return f"{name}{{{pairs}}} %s\n", itemgetter(*names)


def _no_values(labels: Labels) -> tuple[str, ...]:
    return ()


class _Escapes(dict[str, str]):
    """Label values escaped as both formats escape them (backslash, newline, double quote),
    remembered: a family repeats the same values many times."""

    def __missing__(self, value: str) -> str:
        escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        self[value] = escaped
        return escaped


class _Family:
    """A registry holding one family, for prometheus_client's own writers."""

    def __init__(self, family: Metric) -> None:
        self.family = family

    def collect(self) -> Iterator[Metric]:
        yield self.family


def _by_prometheus_client(family: Metric, openmetrics: bool) -> str:
    if not openmetrics:
        return generate_latest(_Family(family)).decode("utf-8")
    written: bytes = generate_openmetrics(_Family(family))  # type: ignore[no-untyped-call]
    return written.decode("utf-8").removesuffix(EOF)
