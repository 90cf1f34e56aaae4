"""The Inspect AI connector on real logs: made by inspect-ai with mockllm/model in this session,
and the shared samples from other inspect-ai versions (realdata)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.inspect_logs import InspectLogs, parse_log
from tests.connectors import craft
from tests.connectors.conftest import clock
from tests.support.loopback import FAST, Loopback, loopback, reply
from warden.core.errors import ConfigError, NotReady, ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import feed_runs, observations, rejects

__all__ = ["loopback"]  # the fixture, shared with tests/ingest/test_http.py

INSPECT = Path("inspect")
ZSTD_DIR = INSPECT / "inspect_ai_0.3.285_zstd"
DEFLATE_DIR = INSPECT / "inspect_ai_0.3.200_deflate"
PUBLIC = INSPECT / "real_public_logs"
TWO_THIRDS, ONE_THIRD = 2 / 3, 1 / 3


def fetch(path: Path, **opts: object) -> list[Payload | Rejection | Pending]:
    return list(InspectLogs({"path": path, **opts}).fetch(Cursor()))


def parse_file(path: Path, **opts: object) -> list[Observation]:
    (item,) = fetch(path, **opts)
    assert isinstance(item, Payload), item
    return InspectLogs({"path": path, **opts}).parse(item)


def payload(doc: object, source: str = "log.json") -> Payload:
    content = json.dumps(doc).encode()
    return Payload(source, content, sha256(content))


def by_metric(items: list[Observation]) -> dict[str, Observation]:
    out = {o.metric: o for o in items}
    assert len(out) == len(items), "metric ids repeat within one log"
    return out


# -- logs made in this session --------------------------------------------------------------


def test_eval_and_json_logs_give_the_same_observations(inspect_logs: dict[str, Path]) -> None:
    from_eval = by_metric(parse_file(inspect_logs["eval"]))
    from_json = by_metric(parse_file(inspect_logs["json"]))
    assert set(from_eval) == set(from_json) == {"match/accuracy", "includes/accuracy"}
    for metric, a in from_eval.items():
        b = from_json[metric]
        for o in (a, b):
            assert o.subject == "mockllm/model"
            assert o.benchmark == "tiny"
            assert o.value == pytest.approx(TWO_THIRDS)
            assert o.stderr == pytest.approx(ONE_THIRD)
            assert o.n == 3
            assert o.observed_at.utcoffset() == timedelta(0)
        assert (a.attributes["scorer"], a.attributes["reducer"]) == (metric.split("/")[0], None)
        assert a.attributes["inspect_version"] == b.attributes["inspect_version"]


def test_eval_log_reads_only_the_header_member(inspect_logs: dict[str, Path]) -> None:
    (item,) = fetch(inspect_logs["eval"])
    assert isinstance(item, Payload)
    assert item.member == "header.json"
    assert json.loads(item.content)["status"] == "success"
    assert "samples" not in json.loads(item.content)


def test_observations_carry_provenance(inspect_logs: dict[str, Path]) -> None:
    (item,) = fetch(inspect_logs["eval"])
    assert isinstance(item, Payload)
    header = json.loads(item.content)
    for o in InspectLogs({"path": inspect_logs["eval"]}).parse(item):
        assert o.source == str(inspect_logs["eval"])
        assert o.content_hash == item.content_hash == sha256(item.content)
        assert o.attributes["eval_id"] == header["eval"]["eval_id"]
        assert o.observed_at == datetime.fromisoformat(header["stats"]["completed_at"])


def test_headline_metric_is_flagged(inspect_logs: dict[str, Path]) -> None:
    found = by_metric(parse_file(inspect_logs["eval"]))
    assert found["match/accuracy"].attributes["headline"] is True
    assert found["includes/accuracy"].attributes["headline"] is False


def test_epoch_reducers_give_one_observation_each(inspect_logs: dict[str, Path]) -> None:
    found = by_metric(parse_file(inspect_logs["epochs"]))
    assert set(found) == {
        "match/mean/accuracy",
        "match/max/accuracy",
        "includes/mean/accuracy",
        "includes/max/accuracy",
    }
    for metric, o in found.items():
        assert o.attributes["reducer"] == metric.split("/")[1]
        assert o.attributes["epochs"] == 2
        assert o.n == 3  # samples scored, not samples x epochs
        assert o.value == pytest.approx(TWO_THIRDS)
        assert o.stderr == pytest.approx(ONE_THIRD)


def test_keys_are_stable_and_distinct(inspect_logs: dict[str, Path]) -> None:
    runs = [parse_file(inspect_logs[name]) for name in ("eval", "json", "epochs")]
    again = [parse_file(inspect_logs[name]) for name in ("eval", "json", "epochs")]
    keys = [o.key for run in runs for o in run]
    assert keys == [o.key for run in again for o in run]
    assert len(set(keys)) == len(keys) == 8


def test_error_log_is_rejected_naming_the_error(inspect_logs: dict[str, Path]) -> None:
    (item,) = fetch(inspect_logs["error"])
    assert isinstance(item, Payload)
    with pytest.raises(ParseError) as caught:
        InspectLogs({"path": inspect_logs["error"]}).parse(item)
    assert caught.value.reason == "run_error"
    assert caught.value.field == "status"
    assert "the sandbox fell over" in caught.value.detail


def test_cancelled_log_is_rejected(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["status"] = "cancelled"
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.field) == ("run_cancelled", "status")


def test_invalidated_log_is_rejected(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["invalidated"] = True
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.field) == ("invalidated", "invalidated")


@pytest.mark.parametrize("message", ["", None, "\n\n", {"not": "text"}, "bad\x00byte\nsecond"])
def test_error_log_with_odd_message_is_still_a_run_error(
    inspect_logs: dict[str, Path], message: object
) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc.update(status="error", error={"message": message}, results=None)
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert caught.value.reason == "run_error"
    assert caught.value.detail.isprintable()
    assert "second" not in caught.value.detail


# -- logs still running -----------------------------------------------------------------------


def started_eval(inspect_logs: dict[str, Path], folder: Path) -> Path:
    """A copy of a real .eval as it looks mid-run: journal and samples, no header.json."""
    members = craft.eval_members(inspect_logs["eval"])
    del members["header.json"], members["summaries.json"], members["reductions.json"]
    return craft.write_zip(folder / "2026-01-01T00-00-00-00-00_tiny_started.eval", members)


def started_json(inspect_logs: dict[str, Path], folder: Path) -> Path:
    doc = craft.log_json(inspect_logs["json"])
    doc.update(status="started", results=None)
    return craft.write_json(folder / "2026-01-01T00-00-00-00-00_tiny_started.json", doc)


def test_eval_without_header_is_pending_not_rejected(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    path = started_eval(inspect_logs, tmp_path)
    (item,) = fetch(path)
    assert isinstance(item, Pending)
    assert item.source == str(path)


def test_json_with_status_started_is_not_ready(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    path = started_json(inspect_logs, tmp_path)
    (item,) = fetch(path)
    assert isinstance(item, Payload)
    with pytest.raises(NotReady):
        InspectLogs({"path": path}).parse(item)


def test_running_logs_are_skipped_and_read_again_later(
    store: Store, log_dir: Path, inspect_logs: dict[str, Path]
) -> None:
    started_eval(inspect_logs, log_dir)
    started_json(inspect_logs, log_dir)
    connector = InspectLogs({"path": log_dir})
    cursor = Cursor()
    first = run_feed(store, "lab", connector, cursor, clock)
    assert (first.ingested, first.rejected, first.skipped, first.error) == (4, 0, 2, None)
    second = run_feed(store, "lab", connector, cursor, clock)
    assert (second.ingested, second.rejected, second.skipped) == (0, 0, 2)  # not remembered
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(rejects)).scalar_one() == 0
        runs = conn.execute(select(feed_runs.c.skipped).order_by(feed_runs.c.id)).scalars()
        assert list(runs) == [2, 2]


def test_finished_log_is_ingested_once_its_run_ends(
    store: Store, inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    path = started_eval(inspect_logs, tmp_path)
    connector, cursor = InspectLogs({"path": tmp_path}), Cursor()
    assert run_feed(store, "lab", connector, cursor, clock).skipped == 1
    path.write_bytes(inspect_logs["eval"].read_bytes())  # the run finished
    done = run_feed(store, "lab", connector, cursor, clock)
    assert (done.ingested, done.skipped, done.rejected) == (2, 0, 0)


# -- options ------------------------------------------------------------------------------------


def test_bad_options_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        InspectLogs({"path": "/logs", "max_header_bytes": 0, "colour": "red"}, where="feed lab")
    text = str(caught.value)
    assert "max_header_bytes" in text and "colour" in text and "feed lab" in text


# -- shared samples from other versions ---------------------------------------------------------


@pytest.mark.realdata
def test_zstd_sample_from_0_3_285(samples: Path) -> None:
    path = samples / ZSTD_DIR / "2026-11-28T08-19-13-00-00_tiny_6ra3G4mhgScs9HrNqA8iQP.eval"
    found = by_metric(parse_file(path))
    assert set(found) == {"match/accuracy", "includes/accuracy"}
    o = found["match/accuracy"]
    assert (o.subject, o.benchmark, o.n) == ("mockllm/model", "tiny", 3)
    assert o.value == pytest.approx(TWO_THIRDS)
    assert o.stderr == pytest.approx(ONE_THIRD)
    assert o.observed_at == datetime(2026, 11, 28, 8, 19, 13, tzinfo=UTC)
    assert o.attributes["inspect_version"] == "0.3.285"


@pytest.mark.realdata
def test_zstd_sample_matches_its_pretty_printed_header(samples: Path) -> None:
    folder = samples / ZSTD_DIR
    from_eval = parse_file(folder / "2026-11-28T08-19-13-00-00_tiny_6ra3G4mhgScs9HrNqA8iQP.eval")
    from_header = parse_file(folder / "tiny_success.header.json")
    assert [(o.metric, o.value, o.stderr, o.n, o.key) for o in from_eval] == [
        (o.metric, o.value, o.stderr, o.n, o.key) for o in from_header
    ]


@pytest.mark.realdata
def test_zstd_sample_with_epoch_reducers(samples: Path) -> None:
    path = samples / ZSTD_DIR / "2026-11-28T08-19-25-00-00_tiny_EKTLY823E6aVYSV2eiGn2H.eval"
    assert set(by_metric(parse_file(path))) == {
        "match/mean/accuracy",
        "match/max/accuracy",
        "includes/mean/accuracy",
        "includes/max/accuracy",
    }


@pytest.mark.realdata
def test_deflate_sample_from_0_3_200_names_metrics_like_newer_versions(samples: Path) -> None:
    # 0.3.200 writes `reducer: mean` on the second scorer of a one-epoch run; the default
    # reducer stays out of the metric id so the series matches logs from newer versions.
    (path,) = (samples / DEFLATE_DIR).glob("*.eval")
    found = by_metric(parse_file(path))
    assert set(found) == {"match/accuracy", "includes/accuracy"}
    assert found["includes/accuracy"].attributes["reducer"] == "mean"
    for o in found.values():
        assert o.value == pytest.approx(TWO_THIRDS)
        assert o.stderr == pytest.approx(ONE_THIRD)
        assert o.n == 3
        assert o.attributes["inspect_version"] == "0.3.200"


@pytest.mark.realdata
def test_local_offset_becomes_the_same_instant_in_utc(samples: Path) -> None:
    # 0.3.108 wrote local times: completed_at 2025-07-03T16:44:38+02:00.
    (o,) = parse_file(samples / PUBLIC / "evaleval__data_pubmedqa_gpt4o_mini.json")
    assert o.observed_at == datetime(2025, 7, 3, 14, 44, 38, tzinfo=UTC)
    assert o.observed_at.utcoffset() == timedelta(0)
    assert (o.subject, o.benchmark, o.metric) == (
        "openai/azure/gpt-4o-mini",
        "inspect_evals/pubmedqa",
        "choice/accuracy",
    )
    assert (o.value, o.stderr, o.n) == (1.0, 0.0, 2)
    assert o.attributes["partial"] is True  # run with `limit`


@pytest.mark.realdata
def test_log_without_stderr_metric_has_no_stderr(samples: Path) -> None:
    items = parse_file(samples / PUBLIC / "evaleval__data_cyse2_vuln_exploit_challenges.json")
    found = by_metric(items)
    prefix = "vul_exploit_scorer/"
    assert set(found) == {prefix + "accuracy", prefix + "mean", prefix + "std"}
    assert all(o.stderr is None for o in items)
    assert found[prefix + "accuracy"].value == pytest.approx(0.38108974358974373)
    # 0.3.75 has no scored_samples: completed_samples (2340) counts all 4 epochs.
    assert {o.n for o in items} == {585}


@pytest.mark.realdata
def test_failed_sample_run_is_rejected_naming_the_message(samples: Path) -> None:
    path = samples / ZSTD_DIR / "2026-11-28T08-19-29-00-00_tiny-fail_oSWHbdiYDYmMgdzqRCMVFE.eval"
    (item,) = fetch(path)
    assert isinstance(item, Payload)
    with pytest.raises(ParseError) as caught:
        InspectLogs({"path": path}).parse(item)
    assert caught.value.reason == "run_error"
    assert "ConnectionError" in caught.value.detail


@pytest.mark.realdata
def test_sample_folder_ingests_into_a_store(store: Store, samples: Path) -> None:
    connector = InspectLogs({"path": samples / INSPECT})
    result = run_feed(store, "samples", connector, Cursor(), clock)
    assert result.error is None
    assert (result.rejected, result.failed_runs) == (0, 1)  # the tiny-fail run: a failed run
    assert result.run_failures[0].reason == "run_error"
    # tiny_success.header.json repeats the first .eval's header: same keys, no new rows.
    assert (result.ingested, result.duplicates) == (2 + 2 + 4 + 2 + 3 + 1, 2)
    with store.read() as conn:
        stored = conn.execute(select(observations.c.observed_at, observations.c.value)).all()
    assert all(math.isfinite(v) and when.tzinfo is not None for when, v in stored)


def test_a_zip_of_logs_at_a_url_with_a_token_gives_every_log(
    inspect_logs: dict[str, Path], loopback: Loopback, tmp_path: Path
) -> None:
    """The query (a token) does not hide that a member is a `.eval`; the payloads name the URL
    without the token."""
    members = {"logs/a.eval": inspect_logs["eval"], "logs/b.json": inspect_logs["json"]}
    archive = craft.write_zip(
        tmp_path / "logs.zip", {k: p.read_bytes() for k, p in members.items()}
    )
    loopback.routes["/logs.zip"] = reply(200, archive.read_bytes())
    connector = InspectLogs(
        {"source": loopback.url("/logs.zip?token=SEKRET"), "fetch": FAST.model_dump()}
    )
    items = list(connector.fetch(Cursor()))
    assert [(type(i).__name__, getattr(i, "member", None)) for i in items] == [
        ("Payload", "logs/a.eval!header.json"),
        ("Payload", "logs/b.json"),
    ]
    assert {i.source for i in items} == {loopback.url("/logs.zip?token=***")}
    assert all(connector.parse(i) for i in items if isinstance(i, Payload))
