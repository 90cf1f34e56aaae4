"""The `system_cards` connector: a system card in Markdown, HTML or PDF yields exactly its
declaration sentences as candidates (observations of `declaration_candidate`, the sentence
quoted exactly), and not the sentences that mention a level in passing; models come from the
option, the sentence, the document or nowhere (then the candidate says so)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.system_cards import NO_MODEL, SystemCards
from tests.support.loopback import Loopback, loopback, reply
from warden.core.declarations import CANDIDATE
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor, sha256

__all__ = ["loopback"]  # the fixture

DATA = Path(__file__).parent / "data" / "system_cards"
FETCHED = datetime(2026, 2, 1, 12, tzinfo=UTC)

# A Google DeepMind style card of our own: three declarations, one passing mention.
TITLE = "Gamma G1 Model Card"
PARAGRAPHS = [
    "This model card describes Gamma G1 and its evaluations under our Frontier Safety Framework.",
    "Gamma G1 reached the alert threshold for the CBRN Uplift Level 1 CCL, so we are putting a "
    "response plan in place. The model did not reach the Cyber Autonomy Level 1 CCL.",
    "Our evaluations for Harmful Manipulation Level 1 are described in section 5.",
    "We could not rule out that Gamma G1 reaches the Machine Learning R&D Uplift Level 1 CCL, "
    "e.g. on research engineering tasks. Gamma G1 scored 42% on the held-out set.",
]
EXPECTED = {
    (
        "gdm-fsf.cbrn-uplift-level-1.cbrn",
        "early_warning_reached",
        "Gamma G1 reached the alert threshold for the CBRN Uplift Level 1 CCL, so we are putting "
        "a response plan in place.",
    ),
    (
        "gdm-fsf.cyber-autonomy-level-1.cyber",
        "below",
        "The model did not reach the Cyber Autonomy Level 1 CCL.",
    ),
    (
        "gdm-fsf.machine-learning-r-d-uplift-level-1.ml-r-d",
        "could_not_rule_out",
        "We could not rule out that Gamma G1 reaches the Machine Learning R&D Uplift Level 1 CCL, "
        "e.g. on research engineering tasks.",
    ),
}


def markdown_card() -> bytes:
    body = [f"# {TITLE}", "", "## Summary", ""]
    for p in PARAGRAPHS:
        # Markup around words, and a paragraph wrapped over two lines.
        p = p.replace("CBRN Uplift Level 1", "**CBRN Uplift Level 1**")
        p = p.replace("Frontier Safety Framework", "[Frontier Safety Framework](https://x.org/f)")
        half = p.find(" ", len(p) // 2)
        body += [p[:half], p[half + 1 :], ""]
    return "\n".join(body).encode()


def html_card() -> bytes:
    paragraphs = "\n".join(
        f"<p>{p.replace('&', '&amp;').replace('Level 1 CCL', '<em>Level 1</em> CCL')}</p>"
        for p in PARAGRAPHS
    )
    return (
        "<!DOCTYPE html><html><head><title>Gamma G1</title>"
        "<script>let s = 'Gamma G1 reached the CBRN Uplift Level 2 CCL.';</script></head>"
        f"<body><nav>Home</nav><h1>{TITLE}</h1>\n{paragraphs}</body></html>"
    ).encode()


def pdf_card(paragraphs: list[str] = PARAGRAPHS) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.cell(text=TITLE)
    pdf.ln(14)
    pdf.set_font("Helvetica", size=11)
    for p in paragraphs[:2]:
        pdf.multi_cell(0, 6, p)
        pdf.ln(4)
    pdf.add_page()
    for p in paragraphs[2:]:
        pdf.multi_cell(0, 6, p)
        pdf.ln(4)
    return bytes(pdf.output())


def connector(**options: Any) -> SystemCards:
    return SystemCards({"source": "unused", **options})


def parse(content: bytes, name: str, **options: Any) -> list[Observation | Rejection]:
    payload = Payload(name, content, sha256(content), fetched_at=FETCHED)
    return connector(**options).parse(payload)


def observations(items: list[Observation | Rejection]) -> list[Observation]:
    assert all(isinstance(o, Observation) for o in items), items
    return [o for o in items if isinstance(o, Observation)]


def found(items: list[Observation | Rejection]) -> set[tuple[str, str, str]]:
    return {(o.metric, o.attributes["status"], o.attributes["quote"]) for o in observations(items)}


GAMMA = {"models": {"gamma/g1": ["Gamma G1"]}}


@pytest.mark.parametrize(
    ("name", "make"),
    [("card.md", markdown_card), ("card.html", html_card), ("card.pdf", pdf_card)],
)
def test_a_card_in_each_format_yields_exactly_its_declaration_sentences(
    name: str, make: Any
) -> None:
    items = parse(make(), name, **GAMMA)
    assert found(items) == EXPECTED
    for o in items:
        assert isinstance(o, Observation)
        assert o.benchmark == CANDIDATE
        assert o.subject == "gamma/g1"
        assert o.attributes["organisation"] == "Google DeepMind"
        assert o.attributes["measured_by"] == "vendor"
        assert o.attributes["model_named"] is True
        assert o.observed_at == FETCHED
    if name.endswith(".pdf"):  # where each is: page and sentence
        records = sorted(o.attributes["record"] for o in items if isinstance(o, Observation))
        assert [r.split(",")[0] for r in records] == ["page 1", "page 1", "page 2"]


def test_the_anthropic_card_quotes_its_two_declarations_and_not_the_passing_mentions() -> None:
    path = DATA / "acme-m1-system-card.md"
    models = {"acme/m1": ["Acme M1"], "acme/m1-mini": ["Acme M1 Mini"]}
    items = parse(path.read_bytes(), str(path), organisation="Acme", models=models)
    assert found(items) == {
        (
            "anthropic-rsp.asl-3.cbrn",
            "could_not_rule_out",
            "We could not clearly rule out that Acme M1 requires ASL-3 protections for CBRN "
            "weapons uplift, so we are deploying it under the ASL-3 Deployment and Security "
            "Standard as a precautionary measure.",
        ),
        (
            "anthropic-rsp.asl-4.ai-r-d",
            "below",
            "Acme M1 does not reach the ASL-4 threshold for autonomous AI R&D.",
        ),
    }
    # "The ASL-3 Security Standard includes ..." and "ASL-2 safeguards remain ..." have no
    # status cue: not candidates. The organisation option wins over the framework's owner.
    assert {o.attributes["organisation"] for o in items if isinstance(o, Observation)} == {"Acme"}


def test_the_openai_card_reads_each_category_of_a_sentence_and_skips_scripts() -> None:
    path = DATA / "beta-b2-system-card.html"
    items = parse(path.read_bytes(), str(path), models={"beta/b2": ["Beta B2"]})
    assert {(o.metric, o.attributes["status"]) for o in items if isinstance(o, Observation)} == {
        ("openai-preparedness.high.biological-and-chemical", "could_not_rule_out"),
        ("openai-preparedness.high.cybersecurity", "below"),
        ("openai-preparedness.high.ai-self-improvement", "below"),
    }
    quotes = {o.attributes["quote"] for o in items if isinstance(o, Observation)}
    assert (
        "We have decided to treat Beta B2 as High capability in the Biological and Chemical "
        "domain, activating the associated safeguards." in quotes
    )
    assert not any("var note" in q or "account-level" in q for q in quotes)


def test_models_come_from_the_option_the_sentence_the_document_or_nowhere() -> None:
    text = (
        b"Claude Opus 4 could not rule out ASL-3 for CBRN weapons.\n\n"
        b"We could not rule out that the model reaches ASL-4 in AI R&D.\n"
    )
    # The bundled registry's names: the sentence's model; the document's one model elsewhere.
    by_sentence = {o.attributes["level"]: o for o in observations(parse(text, "c.md"))}
    assert by_sentence["ASL-3"].subject == "anthropic/claude-opus-4"
    assert by_sentence["ASL-3"].attributes["model_from"] == "sentence"
    assert by_sentence["ASL-4"].subject == "anthropic/claude-opus-4"
    assert by_sentence["ASL-4"].attributes["model_from"] == "document"
    # Two models in the document and none in the sentence: the person gives it at confirm.
    two = text + b"\n\nClaude Sonnet 4 is smaller.\n"
    (unnamed,) = [o for o in observations(parse(two, "c.md")) if o.attributes["level"] == "ASL-4"]
    assert unnamed.subject == NO_MODEL and unnamed.attributes["model_named"] is False
    # The option names the model of every candidate.
    given = parse(two, "c.md", model="acme/m9")
    assert {o.subject for o in given if isinstance(o, Observation)} == {"acme/m9"}


def test_the_date_option_and_the_source_url_are_recorded() -> None:
    (o, *_) = parse(
        markdown_card(),
        "card.md",
        date="2026-01-15",
        source_url="https://g.example.org/g1",
        **GAMMA,
    )
    assert isinstance(o, Observation)
    assert o.observed_at == datetime(2026, 1, 15, tzinfo=UTC)
    assert o.attributes["timestamp_kind"] == "published"
    assert o.attributes["source_url"] == "https://g.example.org/g1"


def test_the_framework_option_reads_only_that_framework() -> None:
    text = b"Gamma G1 did not reach ASL-3. Gamma G1 did not reach the CBRN Uplift Level 1 CCL."
    got = parse(text, "c.txt", framework="gdm-fsf", **GAMMA)
    assert {o.attributes["framework"] for o in got if isinstance(o, Observation)} == {"gdm-fsf"}


def test_a_url_without_a_suffix_is_read_by_its_content(loopback: Loopback) -> None:
    loopback.routes["/news/gamma-g1"] = reply(200, html_card(), {"Content-Type": "text/html"})
    url = loopback.url("/news/gamma-g1")
    c = SystemCards({"source": url, **GAMMA})
    (payload,) = list(c.fetch(Cursor()))
    assert isinstance(payload, Payload)
    items = c.parse(payload)
    assert found(items) == EXPECTED
    assert {o.attributes["source_url"] for o in items if isinstance(o, Observation)} == {url}
