"""The `declarations` connector: lab declarations from YAML, JSON and CSV as observations of the
`declaration` benchmark; bad records rejected alone, naming record and field; the bundled
public dataset loads and every entry cites a URL (and a quote, unless marked unverified)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.declarations import parse_declarations
from thresholds import bundled_catalog
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import sha256

DATA = Path(__file__).parent / "data" / "declarations"
PUBLIC = bundled_catalog() / "declarations" / "public.yaml"


def payload(content: bytes | str, name: str) -> Payload:
    data = content.encode() if isinstance(content, str) else content
    return Payload(name, data, sha256(data))


def split(items: list[Observation | Rejection]) -> tuple[list[Observation], list[Rejection]]:
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )


def test_yaml_declarations_become_observations_of_the_declaration_benchmark() -> None:
    path = DATA / "declarations.yaml"
    obs, bad = split(parse_declarations(payload(path.read_bytes(), str(path))))
    assert bad == []
    m1, m0 = obs
    assert (m1.subject, m1.benchmark, m1.metric, m1.value) == (
        "acme/m1",
        "declaration",
        "acme-rsp.asl-3.cbrn",
        2.0,
    )
    assert m1.observed_at == datetime(2026, 1, 10, tzinfo=UTC)
    assert m1.attributes["measured_by"] == "vendor"
    assert m1.attributes["status"] == "could_not_rule_out"
    assert (
        m1.attributes["quote"] == "We cannot clearly rule out that Acme M1 reaches ASL-3 in CBRN."
    )
    assert m1.attributes["source_url"] == "https://acme.example.org/m1-system-card"
    # `capability` is accepted for `level`; `below` is 0.
    assert (m0.metric, m0.value, m0.attributes["status"]) == ("acme-rsp.asl-3.cbrn", 0.0, "below")


def test_csv_rows_and_json_lists_read_the_same_fields() -> None:
    path = DATA / "declarations.csv"
    obs, bad = split(parse_declarations(payload(path.read_bytes(), str(path))))
    assert bad == []
    assert [(o.subject, o.metric, o.value) for o in obs] == [
        ("beta/b2", "beta-pf.high.cyber", 3.0),
        ("beta/b1", "beta-pf.high.cyber", 1.0),
    ]
    assert "quote" not in obs[1].attributes  # an empty cell is no quote
    doc = yaml.safe_load((DATA / "declarations.yaml").read_text())["declarations"]
    as_json = json.dumps(doc, default=str)
    got, _ = split(parse_declarations(payload(as_json, "d.json")))
    assert [o.key for o in got] == [
        o.key
        for o in split(
            parse_declarations(payload((DATA / "declarations.yaml").read_bytes(), "d.yaml"))
        )[0]
    ]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"status": "probably"}, "status", "invalid_value"),
        ({"date": "2026-13-01"}, "date", "invalid_value"),
        ({"source_url": "ftp://x.example.org/a"}, "source_url", "invalid_value"),
        ({"model": None}, "model", "invalid_value"),
        ({"extra": 1}, "extra", "invalid_value"),
    ],
)
def test_a_bad_record_is_rejected_alone_naming_it_and_the_field(
    change: dict[str, object], field: str, reason: str
) -> None:
    good = {
        "organisation": "A",
        "model": "a/m",
        "framework": "f",
        "level": "L",
        "domain": "d",
        "status": "crossed",
        "date": "2026-01-01",
        "source_url": "https://a.example.org/",
    }
    bad = {**good, **change}
    items = parse_declarations(payload(json.dumps({"declarations": [good, bad]}), "d.json"))
    obs, rejected = split(items)
    assert len(obs) == 1
    (r,) = rejected
    assert (r.record, r.field, r.reason) == ("declarations[1]", field, reason)
    assert r.message.startswith(f"declarations[1]: {field}:")


def test_a_missing_field_is_named() -> None:
    (r,) = parse_declarations(payload("declarations: [{model: a/m}]", "d.yaml"))
    assert isinstance(r, Rejection)
    assert (r.record, r.reason, r.field) == ("declarations[0]", "missing_field", "organisation")


def test_a_document_without_a_list_is_refused_whole() -> None:
    from warden.core.errors import ParseError

    with pytest.raises(ParseError, match="declarations"):
        parse_declarations(payload("declarations: 3", "d.yaml"))


def test_the_bundled_public_declarations_load_and_each_cites_a_url() -> None:
    obs, bad = split(parse_declarations(payload(PUBLIC.read_bytes(), str(PUBLIC))))
    assert bad == []
    assert {(o.subject, o.metric, o.attributes["status"]) for o in obs} == {
        ("anthropic/claude-opus-4", "anthropic-rsp.asl-3.cbrn", "could_not_rule_out"),
        (
            "openai/chatgpt-agent",
            "openai-preparedness.high.biological-and-chemical",
            "could_not_rule_out",
        ),
        ("openai/gpt-5", "openai-preparedness.high.biological-and-chemical", "could_not_rule_out"),
        (
            "google/gemini-2.5-deep-think",
            "gdm-fsf.cbrn-uplift-level-1.cbrn",
            "early_warning_reached",
        ),
    }
    for o in obs:
        assert o.attributes["source_url"].startswith("https://")
        assert o.attributes["verification"]
        # A quote only where it was checked; an unchecked entry says so and quotes nothing.
        assert ("quote" in o.attributes) is o.attributes["verified"]
