"""The Inspect AI connector on fields at their edges: edited copies of a real log made by
inspect-ai with mockllm/model."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from connectors.inspect_logs import parse_log
from tests.connectors import craft
from tests.connectors.test_inspect_logs import TWO_THIRDS, by_metric, payload
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload
from warden.ingest.connector import sha256


def edited(inspect_logs: dict[str, Path], **changes: object) -> Payload:
    """The real .json log with `results.scores[0]` (the match scorer) changed."""
    doc = craft.log_json(inspect_logs["json"])
    doc["results"]["scores"][0].update(changes)
    return payload(doc)


def match_accuracy(items: list[Observation]) -> Observation:
    return by_metric(items)["match/accuracy"]


@pytest.mark.parametrize("stderr", [float("nan"), None])
def test_stderr_inspect_could_not_compute_is_none(
    inspect_logs: dict[str, Path], stderr: float | None
) -> None:
    # Inspect writes NaN for the stderr of a single sample; pydantic writes NaN as null.
    doc = craft.log_json(inspect_logs["json"])
    doc["results"]["scores"][0]["metrics"]["stderr"]["value"] = stderr
    content = json.dumps(doc).encode()  # NaN is written as the literal Inspect uses
    o = match_accuracy(parse_log(Payload("log.json", content, sha256(content))))
    assert o.stderr is None
    assert o.value == pytest.approx(TWO_THIRDS)


@pytest.mark.parametrize("stderr", [-0.1, float("inf"), "0.3", True])
def test_impossible_stderr_is_rejected(inspect_logs: dict[str, Path], stderr: object) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["results"]["scores"][0]["metrics"]["stderr"]["value"] = stderr
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.record, caught.value.field) == (
        "invalid_value",
        "match",
        "results.scores[0].metrics.stderr.value",
    )


def test_bootstrap_stderr_is_used_when_there_is_no_stderr(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    metrics = doc["results"]["scores"][0]["metrics"]
    metrics["bootstrap_stderr"] = dict(metrics.pop("stderr"), name="bootstrap_stderr", value=0.2)
    o = match_accuracy(parse_log(payload(doc)))
    assert o.stderr == 0.2
    assert "match/bootstrap_stderr" not in by_metric(parse_log(payload(doc)))


@pytest.mark.parametrize("scored", [None, -1, 2**31, 1.5, "3"])
def test_implausible_sample_count_is_dropped(inspect_logs: dict[str, Path], scored: object) -> None:
    assert match_accuracy(parse_log(edited(inspect_logs, scored_samples=scored))).n is None


def test_score_with_a_name_of_its_own_names_both(inspect_logs: dict[str, Path]) -> None:
    # A scorer returning a dict gives one entry per key: same scorer, different names.
    items = parse_log(edited(inspect_logs, name="correct"))
    assert "match/correct/accuracy" in by_metric(items)


def test_odd_optional_fields_are_ignored(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["eval"].update(packages=["inspect_ai"], config="epochs=1", run_id={"x": 1})
    doc["eval"]["task_version"] = 10**30
    doc["stats"] = None
    doc["results"]["headline"] = ["match"]
    items = parse_log(payload(doc))
    assert len(items) == 2
    attrs = items[0].attributes
    assert (attrs["inspect_version"], attrs["epochs"], attrs["run_id"]) == (None, None, None)
    assert attrs["task_version"] is None
    # stats gone: the start time stands in for the end.
    assert items[0].observed_at == datetime.fromisoformat(doc["eval"]["created"])


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("model", ""),
        ("model", "m" * 201),
        ("model", "bad\x00model"),
        ("task", "line\nbreak"),
        ("created", "0001-01-01T00:00:00+05:00"),
        ("created", "last tuesday"),
        ("created", 1767225600),
    ],
)
def test_unusable_eval_field_is_rejected_naming_it(
    inspect_logs: dict[str, Path], where: str, value: object
) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["eval"][where] = value
    doc.pop("stats")  # so `created` is the time read
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.field) == ("invalid_value", f"eval.{where}")
    assert caught.value.detail.isprintable()


def test_overlong_metric_id_is_rejected(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    metrics = doc["results"]["scores"][0]["metrics"]
    metrics["a" * 195] = metrics["accuracy"]
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.record) == ("invalid_value", "match")


def test_unknown_status_is_rejected(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["status"] = "paused"
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.field) == ("invalid_value", "status")


def test_results_without_metrics_are_rejected(inspect_logs: dict[str, Path]) -> None:
    doc = craft.log_json(inspect_logs["json"])
    doc["results"]["scores"] = []
    with pytest.raises(ParseError) as caught:
        parse_log(payload(doc))
    assert (caught.value.reason, caught.value.field) == ("missing_field", "results.scores")


def test_explicit_mean_reducer_is_the_default_series(inspect_logs: dict[str, Path]) -> None:
    # `--epochs-reducer mean` names the reducer; the default (also mean) does not.
    named = match_accuracy(parse_log(edited(inspect_logs, reducer="mean")))
    plain = match_accuracy(parse_log(payload(craft.log_json(inspect_logs["json"]))))
    assert named.metric == plain.metric == "match/accuracy"
    assert named.key != plain.key  # still distinct observations
    maxed = parse_log(edited(inspect_logs, reducer="max"))
    assert "match/max/accuracy" in by_metric(maxed)
