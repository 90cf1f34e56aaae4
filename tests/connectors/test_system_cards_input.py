"""The `system_cards` connector on bad documents (through a feed run into a real store: one
reject naming the file, never quoting its content, the good card beside it still read), and its
vocabulary: which status each cue gives, which sentences are not declarations, and where
sentences end."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.declaration_vocabulary import declarations, sentences, status_of
from connectors.system_cards import SystemCards
from tests.connectors.conftest import clock
from tests.connectors.test_system_cards import GAMMA, markdown_card, pdf_card
from warden.core.declarations import CANDIDATE
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

SECRET = b"TOKEN-e3b0c44298fc1c149afb"  # content that must never be shown back
JUNK = b"\x00\x01\x02" + SECRET + bytes(range(256)) * 4


def empty_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()  # a page and no text: a scan without a text layer looks the same
    return bytes(pdf.output())


BAD = {
    "junk.pdf": (JUNK, "not a PDF document"),
    "junk.html": (JUNK, "binary data"),
    "junk.md": (b"\xff\xfe" + SECRET + b"\xc3\x28", "not UTF-8 text"),
    "empty.html": (b"", "the document is empty"),
    "blank.md": (b" \n\n\t\n", "the document is empty"),
    "truncated.pdf": (pdf_card()[:400] + SECRET, "not a readable PDF document"),
    "scan.pdf": (empty_pdf(), "has no text"),
    "markup.html": (b"<html><head><title>" + SECRET + b"</title></head></html>", "has no text"),
}


def test_bad_documents_are_rejected_naming_the_file_and_never_quoting_it(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "good.md").write_bytes(markdown_card())
    for name, (content, _) in BAD.items():
        (folder / name).write_bytes(content)
    feed = SystemCards({"source": str(folder), **GAMMA})
    result = run_feed(store, "cards", feed, Cursor(), clock)
    assert (result.ingested, result.rejected) == (3, len(BAD))
    with store.read() as conn:
        rows = conn.execute(select(rejects.c.source, rejects.c.reason, rejects.c.message)).all()
        stored = conn.execute(select(observations.c.benchmark, observations.c.source)).all()
    assert {b for b, _ in stored} == {CANDIDATE}
    assert {Path(s).name for _, s in stored} == {"good.md"}
    by_file = {Path(source).name: (reason, message) for source, reason, message in rows}
    assert set(by_file) == set(BAD)
    for name, (_, expected) in BAD.items():
        reason, message = by_file[name]
        assert reason == "malformed", (name, message)
        assert expected in message, (name, message)
        assert "TOKEN" not in message and "e3b0c4" not in message, (name, message)


def test_a_document_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    from warden.core.errors import ParseError
    from warden.core.model import Payload

    content = markdown_card()
    payload = Payload("big.md", content, "h")
    with pytest.raises(ParseError, match="byte limit"):
        SystemCards({"source": "x", "max_bytes": 100, **GAMMA}).parse(payload)


@pytest.mark.parametrize(
    ("sentence", "status"),
    [
        # Anthropic RSP
        ("We could not clearly rule out that M requires ASL-3 protections.", "could_not_rule_out"),
        ("We are deploying M with our ASL-3 measures as a precautionary and provisional action.", "could_not_rule_out"),  # noqa: E501
        ("We have not yet determined whether M has passed the threshold that requires ASL-3 protections.", "could_not_rule_out"),  # noqa: E501
        ("We ruled out the need for ASL-3 protections for M.", "below"),
        ("M does not reach the ASL-4 threshold for AI R&D.", "below"),
        ("M remains well below the ASL-3 capability threshold.", "below"),
        ("M crossed the ASL-3 capability threshold for CBRN.", "crossed"),
        # OpenAI Preparedness Framework
        ("We have decided to treat M as High capability in the Biological and Chemical domain.", "could_not_rule_out"),  # noqa: E501
        ("M reaches High capability in Cybersecurity.", "crossed"),
        ("M does not meet the Critical threshold for AI Self-improvement.", "below"),
        # A hyphenated model name between the negation and the verb (seen trying a GPT-5 card).
        ("We do not believe gpt-5-thinking reaches High capability in Cybersecurity.", "below"),
        # Google DeepMind Frontier Safety Framework
        ("M reached the early warning alert threshold for the CBRN Uplift Level 1 CCL.", "early_warning_reached"),  # noqa: E501
        ("The alert threshold for Cyber Uplift Level 1 has been reached by M.", "early_warning_reached"),  # noqa: E501
        ("M did not reach the Cyber Autonomy Level 1 CCL.", "below"),
        ("M reached the Harmful Manipulation Level 1 CCL.", "crossed"),
    ],
)  # fmt: skip
def test_each_framework_s_cue_words_give_their_status(sentence: str, status: str) -> None:
    (found,) = declarations(sentence, None, preparedness=True)
    assert found.status == status


@pytest.mark.parametrize(
    "sentence",
    [
        "The ASL-3 Security Standard includes egress bandwidth controls.",
        "ASL-2 safeguards remain in place for the smaller model.",
        "Our safeguards for High capability models include account-level enforcement.",
        "Evaluations for Harmful Manipulation Level 1 are described in section 5.",
        "The results are summarised below.",  # "below" alone is no status, and names no level
        "M reached 42% on the held-out set.",  # a cue without a level
        "The model has high capability in coding.",  # lower-case "high" is not the framework's
    ],
)
def test_sentences_that_mention_a_level_in_passing_are_not_declarations(sentence: str) -> None:
    assert declarations(sentence, None, preparedness=True) == []


def test_high_capability_counts_in_an_openai_document_or_with_a_category() -> None:
    plain = "M reaches High capability."
    assert declarations(plain, None, preparedness=False) == []
    assert [f.level for f in declarations(plain, None, preparedness=True)] == ["High"]
    assert status_of("M reaches High capability in Cybersecurity.") == "crossed"


def test_sentences_end_at_full_stops_but_not_at_abbreviations() -> None:
    text = (
        "We tested M, e.g. on CTF tasks (see Fig. 3). It did not reach ASL-3.\n"
        "   Dr. Smith  agreed! “ASL-4 was not reached.” Next sentence?  Yes."
    )
    assert sentences(text) == [
        "We tested M, e.g. on CTF tasks (see Fig. 3).",
        "It did not reach ASL-3.",
        "Dr. Smith agreed!",
        "“ASL-4 was not reached.”",
        "Next sentence?",
        "Yes.",
    ]
