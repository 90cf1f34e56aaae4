"""The text of a document for reading sentences: HTML, Markdown or plain text, or PDF, as pages
of paragraphs (connectors/system_cards.py).

- HTML: the text outside scripts, styles and the head, a paragraph per block element, read with
  the standard library's html.parser (a tolerant tokenizer: no new dependency for stripping
  tags, and nothing is fetched or executed).
- Markdown and plain text: a paragraph per block (blank lines; each heading, list item, quote
  line or table row on its own), with inline markup removed (emphasis, code marks, links keep
  their text) so a quote reads as the published sentence. Hand-written rather than rendered
  with a Markdown library: only the marks around words need to go, and the text must stay as
  written.
- PDF: each page's text as pypdf extracts it, a word broken across lines joined again.

The format follows the file name (`.pdf`, `.html`/`.htm`/`.xhtml`, else text), or the content
when the name has no known suffix (a URL such as `/news/some-page`). A document that is not
what its name says, is empty or has no text is a ParseError naming the problem; its content is
never quoted.
"""

from __future__ import annotations

import io
import logging
import re
from html.parser import HTMLParser

from warden.core.errors import ParseError
from warden.core.model import Payload

Pages = list[tuple[int, list[str]]]  # (page number, 0 when the format has none; paragraphs)
PDF_MAGIC = b"%PDF-"
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text")


def document_text(payload: Payload) -> Pages:
    """The paragraphs of `payload`, by page."""
    src = payload.source
    content = payload.content
    if not content.strip():
        raise ParseError("malformed", "the document is empty", source=src)
    kind = kind_of(payload)
    if kind == "pdf":
        pages = pdf_pages(content, src)
    else:
        text = _text(content, src, kind)
        pages = [(0, html_paragraphs(text) if kind == "html" else markdown_paragraphs(text))]
    if not any(p.strip() for _, paragraphs in pages for p in paragraphs):
        why = "a scanned PDF without a text layer?" if kind == "pdf" else "only markup"
        raise ParseError("malformed", f"the document has no text ({why})", source=src)
    return pages


def kind_of(payload: Payload) -> str:
    """`pdf`, `html` or `text`: by the file name's suffix, else by the content."""
    name = (payload.member or payload.source).split("?")[0].split("#")[0].casefold()
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    head = payload.content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(PDF_MAGIC.lower()):
        return "pdf"
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "html"
    return "text"


def _text(content: bytes, src: str, kind: str) -> str:
    if b"\x00" in content[:8192]:
        raise ParseError("malformed", f"binary data, not {kind} text", source=src)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ParseError("malformed", message, source=src) from exc


# -- PDF -------------------------------------------------------------------------------------
_BROKEN_WORD = re.compile(r"([a-z])-\n([a-z])")


def pdf_pages(content: bytes, src: str) -> Pages:
    """Each page's paragraphs as pypdf extracts them.

    pypdf raises exceptions of many types on a damaged or hostile file (its own, ValueError,
    KeyError, struct and zlib errors, RecursionError, ...); any of them refuses the document
    as malformed, naming the type only (its message may quote the file)."""
    if not content.lstrip()[:1024].startswith(PDF_MAGIC):
        raise ParseError("malformed", "not a PDF document (no %PDF- header)", source=src)
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings quote the file
    out: Pages = []
    try:
        reader = pypdf.PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("malformed", "an encrypted PDF (needs a password)", source=src)
        for number, page in enumerate(reader.pages, start=1):
            text = _BROKEN_WORD.sub(r"\1\2", page.extract_text() or "")
            out.append((number, [p for p in re.split(r"\n\s*\n", text) if p.strip()]))
    except ParseError:
        raise
    except Exception as exc:
        message = f"not a readable PDF document ({type(exc).__name__})"
        raise ParseError("malformed", message, source=src) from exc
    return out


# -- HTML ------------------------------------------------------------------------------------
# fmt: off
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl",
    "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
})
# fmt: on
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_paragraphs(text: str) -> list[str]:
    parser = _Text()
    parser.feed(text)
    parser.close()
    return [p for p in re.split(r"\n\s*\n", "".join(parser.parts)) if p.strip()]


# -- Markdown and plain text -----------------------------------------------------------------
_BLOCK_START = re.compile(r"^\s{0,3}(?:#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|>|\|)")
_LEAD = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|(?:>\s?)+)")
# Bounded spans: a line of a thousand `[` or `*` must not take quadratic time.
_IMAGE = re.compile(r"!\[([^\]]{0,500})\]\([^)]{0,2000}\)")
_LINK = re.compile(r"\[([^\]]{1,500})\]\([^)]{0,2000}\)")
_EMPHASIS = re.compile(
    r"(\*\*|\*|`)(?=\S)(.{1,500}?)(?<=\S)\1|(?<!\w)(__|_)(?=\S)(.{1,500}?)(?<=\S)\3(?!\w)"
)
_RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$|^\s*\|?\s*:?-{3,}")


def markdown_paragraphs(text: str) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            paragraphs.append([])
            continue
        if fenced or not line.strip() or _RULE.match(line):
            paragraphs.append([])
            continue
        if _BLOCK_START.match(line):
            paragraphs.append([])
        paragraphs[-1].append(_inline(_LEAD.sub("", line).replace("|", " ")))
    return [" ".join(p) for p in paragraphs if p]


def _inline(line: str) -> str:
    line = _LINK.sub(r"\1", _IMAGE.sub(r"\1", line))
    for _ in range(3):  # nested: ***bold italic***
        line = _EMPHASIS.sub(lambda m: m.group(2) or m.group(4), line)
    return line.rstrip("\\ ")
