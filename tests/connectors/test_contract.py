"""The contract every connector keeps (issue 4: "a contract suite runs every connector").

Parametrized over the installed `warden.connectors` entry points: an entry point without a case in
tests/connectors/contract.py fails every test here, so a connector cannot be added without one.
For each: parse gives observations that fit the store (and the same ones twice); a feed run
stores them and a second run adds nothing; a URL source that fails (401, 404, 503, a server
that never answers) fails the run with the right reason after the right number of requests,
storing nothing; and arbitrary input raises only ParseError.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.connectors.conftest import clock
from tests.connectors.contract import (
    CASES,
    FAST,
    FETCHED,
    Case,
    cases_for,
    check_items,
    check_parse,
    fetched,
    fuzz_connector,
    fuzz_payload,
    installed,
)
from tests.connectors.source_server import etagged
from tests.support.loopback import Handler, Loopback, Script, drip, loopback, reply
from warden.core.errors import ConfigError, NotReady, ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Connector, Cursor, sha256
from warden.ingest.feedrun import IngestResult, run_feed
from warden.ingest.http import FetchError
from warden.store import Store
from warden.store.schema import observations, rejects

__all__ = ["loopback"]  # the fixture, shared with tests/ingest/test_http.py

FEED = "contract"


def params() -> list[Any]:
    """One parameter per case of every installed connector; a connector without a case is a
    parameter too, which fails."""
    out = []
    for connector in installed():
        found = cases_for(connector)
        out += [pytest.param(c, id=c.name) for c in found] or [
            pytest.param((connector, None), id=f"{connector}-NO-CASE")
        ]
    return out


ALL = params()
URLS = [pytest.param(c, id=c.name) for c in CASES if c.reads_urls]
LOCAL_ONLY = [pytest.param(c, id=c.name) for c in CASES if not c.reads_urls]


def need(param: Case | tuple[str, None]) -> Case:
    if not isinstance(param, Case):
        pytest.fail(
            f"connector {param[0]!r} has no contract case: add one to CASES in "
            "tests/connectors/contract.py (a small valid input and its options)"
        )
    return param


def test_every_installed_connector_has_a_case() -> None:
    assert installed(), "no warden.connectors entry points installed (pip install -e .)"
    missing = [name for name in installed() if not cases_for(name)]
    assert missing == [], f"connectors without a contract case: {missing}"


def test_every_case_names_an_installed_connector() -> None:
    assert {c.connector for c in CASES} <= set(installed())
    assert len({c.name for c in CASES}) == len(CASES)


# -- (a) parse ------------------------------------------------------------------------------------
def parsed(case: Case, folder: Path) -> tuple[list[Observation], list[Rejection]]:
    """Every observation and rejection of the case's valid input, each parse checked."""
    connector = case.make(case.build_in(folder))
    found: list[Observation] = []
    refused: list[Rejection] = []
    for item in fetched(connector):
        assert isinstance(item, Payload), f"valid input gave {item}"
        for out in check_parse(connector, item):
            if isinstance(out, Observation):
                found.append(out)
            else:
                refused.append(out)
    return found, refused


@pytest.mark.parametrize("param", ALL)
def test_parse_yields_observations_that_fit_the_store(param: Any, tmp_path: Path) -> None:
    found, _ = parsed(need(param), tmp_path)
    assert found, "the case's valid input gives no observation"


# -- (b) a feed run into a real store -------------------------------------------------------------
def stored_keys(store: Store) -> list[str]:
    with store.read() as conn:
        query = select(observations.c.key).where(observations.c.feed == FEED)
        return list(conn.execute(query).scalars())


def reject_rows(store: Store) -> int:
    with store.read() as conn:
        query = select(func.count()).select_from(rejects).where(rejects.c.feed == FEED)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("param", ALL)
def test_a_feed_run_stores_them_and_a_second_run_adds_nothing(
    param: Any, store: Store, tmp_path: Path
) -> None:
    case = need(param)
    found, refused = parsed(case, tmp_path / "expected")
    keys = {o.key for o in found}
    source = case.build_in(tmp_path / "fed")
    first = run_feed(store, FEED, case.make(source), Cursor(), clock)
    assert first.error is None
    assert (first.ingested, first.duplicates) == (len(keys), len(found) - len(keys))
    assert first.rejected == len(refused)
    assert sorted(stored_keys(store)) == sorted(keys)
    rows = reject_rows(store)
    again = run_feed(store, FEED, case.make(source), Cursor(), clock)
    assert (again.ingested, again.duplicates, again.error) == (0, len(found), None)
    assert again.rejected == first.rejected and reject_rows(store) == rows
    assert len(stored_keys(store)) == len(keys)


# -- (c) URL sources ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", LOCAL_ONLY)
def test_a_connector_reading_local_folders_refuses_a_url(case: Case) -> None:
    with pytest.raises(ConfigError) as caught:
        case.make("https://example.org/runs/stats.json")
    assert "source" in str(caught.value) or "layout" in str(caught.value)


def url_connector(case: Case, url: str) -> Connector:
    """The case's connector on `url`, with fetch limits (its `fetch` option) that make retries
    and timeouts cost milliseconds."""
    return case.make(url, fetch=FAST.model_dump())


def route(case: Case) -> str:
    assert case.served is not None
    return f"/{case.name}/{Path(case.served).name}"


def failed_run(
    case: Case, loopback: Loopback, store: Store
) -> tuple[IngestResult, FetchError, int]:
    """A feed run on the failing URL, then the FetchError the connector's fetch raises; the
    requests the run made."""
    path = route(case)
    connector = url_connector(case, loopback.url(path))
    result = run_feed(store, FEED, connector, Cursor(), clock)
    requests = len(loopback.hits(path))
    with pytest.raises(FetchError) as caught:
        fetched(connector)
    assert (result.ingested, result.duplicates, result.rejected) == (0, 0, 0)
    assert stored_keys(store) == [] and reject_rows(store) == 0
    assert result.error is not None and loopback.url(path) in result.error
    return result, caught.value, requests


@pytest.mark.parametrize("status", [401, 404])
@pytest.mark.parametrize("param", URLS)
def test_a_client_error_fails_the_run_at_once(
    param: Any, status: int, loopback: Loopback, store: Store
) -> None:
    case = need(param)
    loopback.routes[route(case)] = reply(status, b"no")
    result, error, requests = failed_run(case, loopback, store)
    assert result.error_reason == "http_status" and f"HTTP {status}" in str(result.error)
    assert requests == 1
    assert (error.permanent, error.status, error.attempts) == (True, status, 1)


@pytest.mark.parametrize("param", URLS)
def test_a_server_error_is_retried_then_fails_the_run(
    param: Any, loopback: Loopback, store: Store
) -> None:
    case = need(param)
    loopback.routes[route(case)] = reply(503, b"busy")
    result, error, requests = failed_run(case, loopback, store)
    assert result.error_reason == "http_status" and "HTTP 503" in str(result.error)
    assert requests == FAST.retries + 1
    assert (error.permanent, error.status, error.attempts) == (False, 503, FAST.retries + 1)


def never_answers(h: Handler) -> None:
    h.stop.wait(3)
    h.close_connection = True


@pytest.mark.parametrize("param", URLS)
def test_a_server_that_never_answers_times_out_is_retried_then_fails_the_run(
    param: Any, loopback: Loopback, store: Store
) -> None:
    case = need(param)
    loopback.routes[route(case)] = never_answers
    result, error, requests = failed_run(case, loopback, store)
    assert result.error_reason == "timeout"
    assert requests == FAST.retries + 1
    assert (error.reason, error.permanent, error.attempts) == ("timeout", False, FAST.retries + 1)


def measurements(items: list[Observation]) -> Counter[tuple[Any, ...]]:
    return Counter((o.subject, o.benchmark, o.metric, o.value, o.stderr, o.n) for o in items)


@pytest.mark.parametrize("param", URLS)
def test_a_served_document_gives_what_the_file_gives(
    param: Any, loopback: Loopback, store: Store, tmp_path: Path
) -> None:
    case = need(param)
    assert case.served is not None
    case.build_in(tmp_path)
    served = tmp_path / case.served
    local = case.make(served)
    expected = [o for p in fetched(local) if isinstance(p, Payload) for o in local.parse(p)]
    path = route(case)
    loopback.routes[path] = etagged(served.read_bytes(), content_type="application/octet-stream")
    connector = url_connector(case, loopback.url(path))
    first = run_feed(store, FEED, connector, Cursor(), clock)
    found = [o for o in expected if isinstance(o, Observation)]
    assert first.error is None and first.ingested == len({o.key for o in found}) > 0
    assert first.rejected == len(expected) - len(found)
    with store.read() as conn:
        rows = conn.execute(select(observations).where(observations.c.feed == FEED)).all()
    got = Counter((r.subject, r.benchmark, r.metric, r.value, r.stderr, r.n) for r in rows)
    assert got == measurements(list({o.key: o for o in found}.values()))
    assert {r.source for r in rows} == {loopback.url(path)}
    again = run_feed(store, FEED, connector, Cursor(), clock)
    assert (again.ingested, again.error) == (0, None)
    # The feed's own cursor: a conditional GET answered 304, nothing read.
    cursor = Cursor()
    run_feed(store, FEED, connector, cursor, clock)
    unchanged = run_feed(store, FEED, connector, cursor, clock)
    assert (unchanged.ingested, unchanged.duplicates, unchanged.rejected) == (0, 0, 0)
    assert loopback.hits(path)[-1].headers.get("If-None-Match") == '"v1"'


@pytest.mark.parametrize("case", URLS)
def test_the_fetch_limits_are_an_option(case: Case) -> None:
    """A feed sets its URL's timeouts, retries and size limits (`connectors.source.SourceOptions`
    has the option every connector reading a source should embed)."""
    connector: Any = case.make("https://example.org/doc", fetch={"read_timeout": 5})
    assert connector.options.fetch.read_timeout == 5


def stalls(h: Handler) -> None:
    """Headers and a few bytes of the body, then nothing until the test ends."""
    drip(1000, 0.001, stall_after=10)(h)


def drips(h: Handler) -> None:
    """A byte every 10 ms: never a long gap, never the end."""
    drip(100_000, 0.01)(h)


@pytest.mark.parametrize(
    ("script", "fetch", "requests", "words"),
    [
        (stalls, {"read_timeout": 0.05, "retries": 1}, 2, "the body stalled: no bytes for 0.05 s"),
        (drips, {"read_timeout": 5, "deadline": 0.2, "retries": 0}, 1, "the 0.2-s deadline"),
    ],
    ids=["read_timeout-retries", "deadline"],
)
@pytest.mark.parametrize("param", URLS)
def test_the_fetch_option_sets_the_limits_the_http_layer_applies(
    param: Any,
    script: Script,
    fetch: dict[str, Any],
    requests: int,
    words: str,
    loopback: Loopback,
    store: Store,
) -> None:
    """Every connector reading URLs takes `fetch` (the real FetchLimits fields) and its values,
    not the defaults (30 s, 300 s, 3 retries), are the ones a feed run is held to."""
    case = need(param)
    path = route(case)
    loopback.routes[path] = script
    connector = case.make(loopback.url(path), fetch={"backoff_base": 0, **fetch})
    result = run_feed(store, FEED, connector, Cursor(), clock)
    assert result.error_reason == "timeout" and words in str(result.error), result.error
    assert len(loopback.hits(path)) == requests
    assert stored_keys(store) == [] and reject_rows(store) == 0


@pytest.mark.parametrize("param", URLS)
def test_the_fetch_option_bounds_what_a_gzipped_document_expands_to(
    param: Any, loopback: Loopback, store: Store, tmp_path: Path
) -> None:
    case = need(param)
    assert case.served is not None
    case.build_in(tmp_path)
    path = route(case) + ".gz"
    loopback.routes[path] = reply(200, gzip.compress((tmp_path / case.served).read_bytes()))
    connector = case.make(loopback.url(path), fetch={"max_expanded_bytes": 64})
    result = run_feed(store, FEED, connector, Cursor(), clock)
    assert result.error is None and result.ingested == 0
    assert [(r.reason, r.message) for r in result.rejections] == [
        ("too_large", "gzip data expands past the 64-byte limit")
    ]


# -- (d) arbitrary input ------------------------------------------------------------------------
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and the infinities too: json.dumps writes NaN and Infinity
    | st.text(max_size=20)
    | st.sampled_from(["", "N/A", "NaN", "1e309", "-1", "2026-01-01T00:00:00", "x" * 201])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def refuse_or_check(case: Case, content: bytes) -> None:
    """Parse made-up `content` as the case's connector would: ParseError (or NotReady) or a
    result that keeps the contract."""
    connector = fuzz_connector(case.name)
    payload = fuzz_payload(case, content)
    try:
        items = list(connector.parse(payload))  # a stream raises as it is read
    except (ParseError, NotReady):
        return
    check_items(items, payload)


@pytest.mark.parametrize("param", ALL)
@FUZZ
@given(content=st.binary(max_size=2000))
def test_parse_of_any_bytes_raises_only_parse_errors(param: Any, content: bytes) -> None:
    refuse_or_check(need(param), content)


@pytest.mark.parametrize("param", ALL)
@FUZZ
@given(doc=json_values)
def test_parse_of_any_json_raises_only_parse_errors(param: Any, doc: Any) -> None:
    refuse_or_check(need(param), json.dumps(doc).encode())


# Cells and tokens that break parsers: numbers out of range, ids too long, quotes and delimiters.
NASTY = [
    "", " ", "NaN", "nan", "inf", "-Infinity", "1e309", "-1", "-0.5", "101", "1.5", "0x10",
    "true", "null", "N/A", "55%", ",", ";", '"', "'", "\n", "\r\n", ":", "- ", "#", "---", "{",
    "[", "&a", "*a", "\x00", "\ufeff", "é", "2147483648", "9" * 30, "x" * 201,
    "1970-01-01", "9999-12-31T23:59:59-05:00", "2026-02-30", "0001-01-01T00:00:00+14:00",
]  # fmt: skip
nasty = st.sampled_from(NASTY) | st.text(max_size=8)


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Payload]]:
    """The payloads of each case's valid input."""
    out = {}
    for case in CASES:
        connector = case.make(case.build_in(tmp_path_factory.mktemp(case.name)))
        out[case.name] = [p for p in fetched(connector) if isinstance(p, Payload) and p.content]
    return out


def locations(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in children:
        yield from locations(value, (*prefix, key))


def put(doc: Any, path: tuple[Any, ...], value: Any, drop: bool = False) -> Any:
    if not path:
        return value
    head, *rest = path
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    if drop and not rest:
        del copy[head]
    else:
        copy[head] = put(copy[head], tuple(rest), value, drop)
    return copy


def get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def embedded(value: Any) -> Any:
    """The JSON document a string holds (the envelopes of HELM and SWE-bench runs), or None."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


@st.composite
def damaged_doc(draw: st.DrawFn, doc: Any) -> Any:
    """`doc` with a few values (or whole subtrees) replaced, dropped or made odd."""
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(locations(doc))))
        inner = embedded(get(doc, path))
        if inner is not None and draw(st.booleans()):
            doc = put(doc, path, json.dumps(draw(damaged_doc(inner))))
        elif path and draw(st.integers(0, 3)) == 0:
            doc = put(doc, path, None, drop=True)
        else:
            doc = put(doc, path, draw(json_values | nasty))
    return doc


@st.composite
def damaged_text(draw: st.DrawFn, content: bytes) -> bytes:
    """`content` with a few spans replaced by nasty tokens, and perhaps cut short."""
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(content)))
        end = draw(st.integers(start, min(len(content), start + 16)))
        content = content[:start] + draw(nasty).encode("utf-8", "surrogatepass") + content[end:]
    if draw(st.booleans()):
        content = content[: draw(st.integers(0, len(content)))]
    return content


@st.composite
def damaged_csv(draw: st.DrawFn, content: bytes) -> bytes:
    """A CSV with some cells replaced, and perhaps a row repeated."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.sampled_from(range(len(rows))))
        if rows[row]:
            rows[row][draw(st.sampled_from(range(len(rows[row]))))] = draw(nasty)
    if len(rows) > 1 and draw(st.booleans()):
        rows.append(list(rows[draw(st.integers(1, len(rows) - 1))]))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def damaged(draw: st.DrawFn, payload: Payload) -> bytes:
    """`payload`'s content damaged in its own structure (JSON, YAML, CSV), or as text."""
    text = payload.content
    if draw(st.integers(0, 3)) == 0:
        return draw(damaged_text(text))
    if payload.source.endswith(".csv"):
        return draw(damaged_csv(text))
    front = text.startswith(b"---\n")
    body = text.split(b"\n---", 2)[0][4:] if front else text
    try:
        doc = json.loads(body) if not payload.source.endswith((".yaml", ".md")) else None
        doc = doc if doc is not None else yaml.safe_load(body)
    except (ValueError, yaml.YAMLError):
        return draw(damaged_text(text))
    new = draw(damaged_doc(doc))
    if payload.source.endswith((".yaml", ".md")):
        dumped = yaml.safe_dump(new, allow_unicode=True).encode("utf-8", "surrogatepass")
        return b"---\n" + dumped + b"---\n" if front else dumped
    return json.dumps(new).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("param", ALL)
@FUZZ
@given(data=st.data())
def test_parse_of_a_damaged_valid_payload_raises_only_parse_errors(
    param: Any, valid: dict[str, list[Payload]], data: st.DataObject
) -> None:
    case = need(param)
    original = data.draw(st.sampled_from(valid[case.name]))
    content = data.draw(damaged(original))
    connector = fuzz_connector(case.name)
    payload = Payload(original.source, content, sha256(content), original.member, None, FETCHED)
    try:
        items = list(connector.parse(payload))  # a stream raises as it is read
    except (ParseError, NotReady):
        return
    check_items(items, payload)
