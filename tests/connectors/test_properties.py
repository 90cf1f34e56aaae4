"""Property tests: whatever the bytes, the connectors raise only ParseError or NotReady, reading
a file never raises, and what they do return fits the store."""

from __future__ import annotations

import json
import math
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.files import read_one
from connectors.inspect_logs import InspectLogs, parse_log
from connectors.observations_json import parse_batch
from tests.connectors import craft
from warden.core.errors import NotReady, ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import sha256

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included
    | st.text(max_size=20)
    | st.sampled_from(["success", "started", "error", "cancelled", "mean", "stderr"])
    | st.sampled_from(
        ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00", "0001-01-01T00:00+05:00"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


MISSING = object()


def either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all or nothing."""
    return st.one_of(valid, valid, valid, valid, json_values, st.just(MISSING))


def fields(**keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly an object with these keys (each mostly plausible), sometimes anything at all."""
    obj = st.fixed_dictionaries({k: either(v) for k, v in keys.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )
    return st.one_of(obj, obj, obj, obj, json_values)


names = st.sampled_from(["match", "includes", "accuracy", "mean", "max", "stderr", "", "x" * 201])
times = st.sampled_from(
    [
        "2026-01-01T00:00:00+00:00",
        "2025-07-03T16:44:38+02:00",
        "2026-01-01T00:00:00",
        "9999-12-31T23:59:59-05:00",
    ]
)
counts = st.integers(-1, 10) | st.just(2**31)
metric = fields(value=st.floats() | st.integers(-(2**70), 2**70), name=names)
score = fields(
    name=names,
    scorer=names,
    reducer=names,
    scored_samples=counts,
    metrics=either(st.dictionaries(names, metric, max_size=4)),
)
inspect_docs = fields(
    version=st.just(2),
    status=st.sampled_from(["success", "started", "error", "cancelled", "unknown"]),
    eval=fields(
        eval_id=names,
        run_id=names,
        model=names,
        task=names,
        created=times,
        task_version=counts,
        packages=fields(inspect_ai=names),
        config=fields(epochs=counts, limit=counts),
    ),
    stats=fields(completed_at=times),
    results=fields(
        scores=either(st.lists(score, max_size=4)),
        total_samples=counts,
        completed_samples=counts,
        headline=fields(scorer=names, score=names, metric=names, reducer=names),
    ),
    error=fields(message=st.text(max_size=10)),
    invalidated=st.booleans(),
)


def payload(content: bytes) -> Payload:
    return Payload("fuzz.json", content, sha256(content))


def assert_storable(items: list[Observation]) -> None:
    """What the store's columns take: short printable ids, finite values, aware UTC times."""
    for o in items:
        for text in (o.subject, o.benchmark, o.metric):
            assert 0 < len(text) <= 200 and text.isprintable()
        assert math.isfinite(o.value)
        assert o.stderr is None or (math.isfinite(o.stderr) and o.stderr >= 0)
        assert o.n is None or 0 <= o.n < 2**31
        assert o.observed_at.utcoffset() == timedelta(0)
        json.dumps(o.attributes, allow_nan=False)


def parse_or_refuse(parse: Any, content: bytes) -> None:
    try:
        items = parse(payload(content))
    except (ParseError, NotReady):
        return
    assert_storable(items)


# Where an Inspect header holds what the connector reads (the rest it never looks at).
READ = {"status", "eval", "results", "stats", "error", "invalidated", "batch"}
READ_IN_EVAL = {"eval_id", "run_id", "model", "task", "created", "task_version", "packages"}
READ_IN_EVAL |= {"config"}


def read_paths(doc: Any) -> list[tuple[Any, ...]]:
    """The locations in `doc` the connectors read, the root included."""
    return [
        p
        for p in paths(doc)
        if not p or (p[0] in READ and (p[0] != "eval" or len(p) < 2 or p[1] in READ_IN_EVAL))
    ]


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON document, the root included."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += paths(value, (*prefix, i))
    return out


def replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = replace(copy[head], tuple(rest), value)
    return copy


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> Any:
    """`doc` with a few of its values (or whole subtrees) replaced, dropped or added to."""
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(read_paths(doc)))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop" and where:
            parent = where[:-1]
            container = doc
            for part in parent:
                container = container[part]
            if isinstance(container, dict):
                doc = replace(doc, parent, {k: v for k, v in container.items() if k != where[-1]})
                continue
        if action == "add":
            target = doc
            for part in where:
                target = target[part]
            if isinstance(target, dict):
                known = ["reducer", "scored_samples", "error", "invalidated", "headline"]
                key = draw(st.text(max_size=10) | st.sampled_from(known))
                doc = replace(doc, where, {**target, key: draw(json_values)})
                continue
        doc = replace(doc, where, draw(json_values))
    return doc


@pytest.fixture(scope="module")
def real_header(inspect_logs: dict[str, Path]) -> dict[str, Any]:
    return craft.header_json(inspect_logs["epochs"])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- parse: arbitrary bytes and arbitrary documents ------------------------------------------


@SETTINGS
@given(st.binary(max_size=2000))
def test_inspect_parse_of_any_bytes_raises_only_parse_errors(content: bytes) -> None:
    parse_or_refuse(parse_log, content)


@SETTINGS
@given(json_values)
def test_inspect_parse_of_any_json_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(parse_log, json.dumps(doc).encode())


@SETTINGS
@given(inspect_docs)
def test_inspect_parse_of_any_log_shaped_json_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(parse_log, json.dumps(doc).encode())


@SETTINGS
@given(st.data())
def test_inspect_parse_of_a_damaged_real_header_raises_only_parse_errors(
    real_header: dict[str, Any], data: st.DataObject
) -> None:
    doc = data.draw(mutated(real_header))
    parse_or_refuse(parse_log, json.dumps(doc).encode())


@SETTINGS
@given(st.binary(max_size=2000))
def test_observations_parse_of_any_bytes_raises_only_parse_errors(content: bytes) -> None:
    parse_or_refuse(parse_batch, content)


@SETTINGS
@given(json_values)
def test_observations_parse_of_any_json_raises_only_parse_errors(doc: Any) -> None:
    parse_or_refuse(parse_batch, json.dumps(doc).encode())


GOOD = {
    "model": "m",
    "benchmark": "b",
    "metric": "accuracy",
    "value": 0.5,
    "stderr": 0.1,
    "n": 10,
    "observed_at": "2026-01-01T00:00:00+00:00",
}


@SETTINGS
@given(st.data())
def test_observations_parse_of_damaged_batches_raises_only_parse_errors(
    data: st.DataObject,
) -> None:
    doc = data.draw(mutated({"batch": [GOOD, GOOD]}))
    body = doc.get("batch", doc) if isinstance(doc, dict) else doc
    parse_or_refuse(parse_batch, json.dumps(body).encode())


# -- fetch: arbitrary bytes in a .eval file -------------------------------------------------


def read_as_eval(folder: Path, content: bytes) -> Payload | Rejection | Pending:
    path = folder / "fuzz.eval"
    path.write_bytes(content)
    stat = path.stat()
    connector = InspectLogs({"path": path, "max_header_bytes": 2**20})
    item = read_one(path, f"{stat.st_size}:{stat.st_mtime_ns}", connector._read)
    assert isinstance(item, Payload | Rejection | Pending)
    if isinstance(item, Rejection):
        assert item.reason in ParseError.REASONS and item.source == str(path)
    if isinstance(item, Payload):
        parse_or_refuse(parse_log, item.content)
    return item


@SETTINGS
@given(st.binary(max_size=2000))
def test_reading_any_bytes_as_an_eval_file_never_raises(scratch: Path, content: bytes) -> None:
    read_as_eval(scratch, content)


@SETTINGS
@given(st.data())
def test_reading_a_damaged_real_eval_file_never_raises(
    scratch: Path, inspect_logs: dict[str, Path], data: st.DataObject
) -> None:
    original = inspect_logs["eval"].read_bytes()
    damaged = bytearray(original)
    with zipfile.ZipFile(inspect_logs["eval"]) as archive:
        start = archive.getinfo("header.json").header_offset
    # Damage where the parser looks: the header member, the directory and the end record.
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(start, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(start, len(damaged)))
    read_as_eval(scratch, bytes(damaged[:cut]))


@SETTINGS
@given(st.data())
def test_reading_a_damaged_small_zip_never_raises(scratch: Path, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, 93]))
    body = json.dumps({"status": "started"}).encode()
    path = craft.write_zip(scratch / "small.eval", {"header.json": body}, method)
    damaged = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    read_as_eval(scratch, bytes(damaged))
