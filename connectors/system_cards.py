"""System cards (connector `system_cards`): the sentences of a system card, model card or
framework update in which a lab declares a level of its own safety framework, as *candidate*
declarations for a person to confirm (`warden declarations confirm`) before they count.

Reads HTML, Markdown or plain text, and PDF (its text, extracted with pypdf), from a file, a
folder or a URL. The text is split into sentences and each is matched against the frameworks'
own vocabulary (connectors/declaration_vocabulary.py: ASL-n; High / Critical capability; a
Critical Capability Level and its alert threshold). A sentence naming a level with a status cue
becomes one observation per model of the `declaration_candidate` benchmark: metric
`<framework>.<level>.<domain>` (domain `unspecified` when the sentence names none), value the
proposed status' ordinal (as the `declaration` benchmark's), `measured_by: vendor`, and as
attributes the sentence quoted exactly (whitespace collapsed, markup removed), organisation,
framework, level, domain, proposed status, `source_url`, and where it is (`record`: page and
sentence). The catalog refuses a threshold that reads `declaration_candidate`: a candidate
counts only once a person confirmed it, which writes a real `declaration`.

Options (besides `source`, `fetch`, `max_bytes`):

- `organisation`: the lab (default: the framework's owner);
- `framework`: look only for `anthropic-rsp`, `openai-preparedness` or `gdm-fsf`;
- `model`: the model every candidate is about; without it, the models the sentence names (by
  the registry's ids and aliases, read from the bundled registry and the `registry` files, and
  the `models` option: id -> names), else the one model the document names; a candidate with
  no model says so (`model_named: false`, subject `(model not named)`) and the person gives it;
- `source_url`: the document's public address, when it is read from a file (a URL source is
  its own);
- `date`: when the lab published it (default: the file's modification or fetch time).

A document that is not what its name says (binary bytes named `.html`, a `.pdf` that pypdf
cannot read), or is empty, is rejected whole with a message naming the problem, never quoting
the content.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, HttpUrl, field_validator

from connectors import declaration_vocabulary as vocabulary
from connectors.document_text import document_text
from connectors.documents import MAX_ID, dedupe, fetch_time, is_id
from connectors.source import DocumentOptions, Documents, is_url
from warden.catalog.registry import Registry, load_registry
from warden.core.declarations import CANDIDATE, declaration_metric, status_value
from warden.core.errors import CatalogError, ConfigError, ParseError, Problem
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import content_key

SUFFIXES = (".html", ".htm", ".xhtml", ".md", ".markdown", ".txt", ".pdf")
MAX_BYTES = 32 * 2**20
MAX_QUOTE = 2000  # the `declarations` connector's longest quote; a longer "sentence" is a table
NO_MODEL = "(model not named)"
UNSPECIFIED = "unspecified"


class Options(DocumentOptions):
    max_bytes: int = Field(MAX_BYTES, gt=0)
    organisation: str | None = Field(None, min_length=1, max_length=MAX_ID)
    framework: Literal["anthropic-rsp", "openai-preparedness", "gdm-fsf"] | None = None
    model: str | None = Field(None, min_length=1, max_length=MAX_ID)
    models: dict[str, list[str]] = Field(default_factory=dict)
    registry: list[str] = Field(default_factory=list)
    source_url: HttpUrl | None = None
    date: dt.date | None = None

    @field_validator("source_url")
    @classmethod
    def _web(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and value.scheme not in ("http", "https"):
            raise ValueError("an http(s) URL")
        return value


class SystemCards(Documents):
    name: ClassVar[str] = "system_cards"
    SUFFIXES = SUFFIXES
    WHAT = "system cards (HTML, Markdown, text or PDF)"
    OPTIONS = Options
    options: Options

    def __init__(self, raw_options: dict[str, Any], where: str | None = None) -> None:
        super().__init__(raw_options, where)
        self.names = ModelNames()
        if self.options.model is None:
            self.names = ModelNames.load(self.options, where or self.name)

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        return parse_system_card(payload, self.options, self.names)


class ModelNames:
    """Model names as they may be written in a document (`Claude Opus 4`, `GPT-5`), folded to
    word tuples, -> model id. Found by looking words up, not by one large regular expression:
    a registry holds thousands of names, and a document has tens of thousands of words."""

    def __init__(self, names: dict[tuple[str, ...], str] | None = None) -> None:
        self.names = names or {}
        self.longest = max((len(k) for k in self.names), default=0)

    @classmethod
    def load(cls, options: Options, where: str) -> ModelNames:
        from thresholds import bundled_registry

        try:
            registry = load_registry([bundled_registry(), *map(Path, options.registry)])
        except CatalogError as exc:
            raise ConfigError([Problem(f"{where}.registry", str(exc))]) from exc
        return cls.of(registry, options.models)

    @classmethod
    def of(cls, registry: Registry, extra: dict[str, list[str]]) -> ModelNames:
        names: dict[tuple[str, ...], str] = {}
        wanted = [
            (m.id, [m.id, m.id.rsplit("/", 1)[-1], *m.aliases]) for m in registry.models.values()
        ]
        wanted += [(model, [model, *spellings]) for model, spellings in extra.items()]
        for model, spellings in wanted:
            for spelling in spellings:
                words = tuple(words_of(spelling))
                if words and not (len(words) == 1 and words[0].replace(".", "").isdigit()):
                    names[words] = model
        return cls(names)

    def found(self, text: str) -> list[str]:
        """The models `text` names, in order, once each (the longest name at each word wins)."""
        words = words_of(text)
        out: list[str] = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                model = self.names.get(tuple(words[i : i + n]))
                if model is not None:
                    if model not in out:
                        out.append(model)
                    i += n
                    break
            else:
                i += 1
        return out


_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def words_of(text: str) -> list[str]:
    """`Claude Opus 4.5` and `claude-opus-4.5` alike: ['claude', 'opus', '4.5']."""
    return _WORD.findall(text.lower())


def parse_system_card(
    payload: Payload, options: Options, names: ModelNames
) -> list[Observation | Rejection]:
    """The candidate declarations of one document."""
    src = payload.source
    if len(payload.content) > options.max_bytes:
        message = f"the document is over the {options.max_bytes}-byte limit"
        raise ParseError("too_large", message, source=src)
    pages = document_text(payload)
    whole = "\n".join(p for _, paragraphs in pages for p in paragraphs)
    preparedness = "Preparedness" in whole
    in_document = names.found(whole) if options.model is None else []
    when, kind = _when(payload, options)
    url = _source_url(payload, options)
    out: list[Observation | Rejection] = []
    n = 0
    for page, paragraphs in pages:
        for paragraph in paragraphs:
            for sentence in vocabulary.sentences(paragraph):
                n += 1
                if len(sentence) > MAX_QUOTE:
                    continue
                found = vocabulary.declarations(sentence, options.framework, preparedness)
                if not found:
                    continue
                record = f"page {page}, sentence {n}" if page else f"sentence {n}"
                models = _models(sentence, options, names, in_document)
                for f in found:
                    for model, model_from in models:
                        attributes = _attributes(f, options, model_from, record, url, sentence)
                        out.append(_candidate(payload, f, model, when, kind, attributes))
    return dedupe(out)


def _models(
    sentence: str, options: Options, names: ModelNames, in_document: list[str]
) -> list[tuple[str, str | None]]:
    """(model, where it came from) for each model a candidate sentence is about."""
    if options.model is not None:
        return [(options.model, "option")]
    named = [m for m in names.found(sentence) if is_id(m)]
    if named:
        return [(m, "sentence") for m in named]
    if len(in_document) == 1 and is_id(in_document[0]):
        return [(in_document[0], "document")]
    return [(NO_MODEL, None)]


def _attributes(
    f: vocabulary.Found,
    options: Options,
    model_from: str | None,
    record: str,
    url: str | None,
    sentence: str,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "measured_by": "vendor",
        "vendor_reported": True,
        "organisation": options.organisation or vocabulary.ORGANISATIONS[f.framework],
        "framework": f.framework,
        "level": f.level,
        "status": f.status,
        "quote": sentence,
        "record": record,
        "model_named": model_from is not None,
    }
    if f.domain is not None:
        attributes["domain"] = f.domain
    if model_from is not None:
        attributes["model_from"] = model_from
    if url is not None:
        attributes["source_url"] = url
    return attributes


def _candidate(
    payload: Payload,
    f: vocabulary.Found,
    model: str,
    when: datetime,
    kind: str,
    attributes: dict[str, Any],
) -> Observation:
    metric = declaration_metric(f.framework, f.level, f.domain or UNSPECIFIED)
    return Observation(
        subject=model,
        benchmark=CANDIDATE,
        metric=metric,
        value=float(status_value(f.status)),
        observed_at=when,
        key=content_key(CANDIDATE, model, metric, f.status, attributes["quote"]),
        source=payload.source,
        content_hash=payload.content_hash,
        attributes={**attributes, "timestamp_kind": kind},
    )


def _when(payload: Payload, options: Options) -> tuple[datetime, str]:
    """When the document was published (the `date` option), else when it was fetched."""
    if options.date is not None:
        d = options.date
        return datetime(d.year, d.month, d.day, tzinfo=UTC), "published"
    return fetch_time(payload, "system cards"), "fetched"


def _source_url(payload: Payload, options: Options) -> str | None:
    if options.source_url is not None:
        return str(options.source_url)
    return payload.source if is_url(payload.source) else None
