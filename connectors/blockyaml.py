"""A fast reader for plain block YAML: the shape METR's results files and `yaml.safe_dump` write.

PyYAML, even with libyaml, spends most of its time on such a file building, resolving and
constructing one Python node per scalar. `read(text)` reads the subset below line by line and
gives exactly what `yaml.safe_load(text)` gives; any line outside the subset makes it return
OUTSIDE, and the caller reads the document with PyYAML, which also reports its errors.
tests/connectors/test_blockyaml.py holds it to PyYAML on the samples and on generated documents.

Why hand-written (measured on the 2-core perf machine, shared and loaded, PyYAML 6.0.4 with
libyaml): METR's two real files (27 kB, ../shared/samples/metr) take 2.7 ms of CPU here against
9.8 ms with `yaml.load(text, Loader=yaml.CSafeLoader)` (and 80 ms with the pure-Python
SafeLoader), p50 of 200; in perf/run.py's `feeds` figure (~50,000 input rows, 4,700 of them
METR entries; target >= 10,000 rows/s) the METR feed ran at 5,300-5,600 entries/s with this
reader against 1,500-1,800 with CSafeLoader, and the whole figure at 9,400-10,800 rows/s
(target met in one of two runs) against 6,400-6,700 (missed in both), interleaved runs of
`perf/feeds.py --rows 50000 --repeats 3`. libyaml alone would cost the target.

The subset: lines of `key: value`, `key:` (a nested block or null) and `- value`, indented with
spaces (a sequence may sit at its key's indentation, as PyYAML writes it); blank lines and
whole-line comments. Keys and values are one-line plain scalars of a few safe characters, or
quotes without escapes: `'text'`, `"text"`. Scalars get PyYAML's YAML 1.1 types (null, bool,
int, float, date, str) from PyYAML's own resolver table; the forms whose construction is not
plainly `int()`, `float()` or a date (octal, sexagesimal, `1_000`, `.inf`, timestamps with a
time) are left to PyYAML. Not in it: flow collections, anchors and aliases, tags, block
scalars, multi-line scalars, document markers, tabs, and sequences of collections. Anything not
in it never reaches the fast path, so no document is read differently.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

import yaml

OUTSIDE: Final = object()  # read()'s answer for a document outside the subset

MAX_DEPTH = 64  # deeper documents are left to PyYAML, which has its own limits

# One line: indentation, an optional "- ", then "key:" [value] or a value.
# Quoted scalars: printable ASCII, no escapes (no quote inside '...', no quote or \ in "...").
_QUOTED = r"'[^'\x00-\x1f\x7f-\U0010ffff]*'|\"[^\"\\\x00-\x1f\x7f-\U0010ffff]*\""
_KEY = rf"[A-Za-z0-9_][A-Za-z0-9_.\-/~+@()]*|{_QUOTED}"
_VALUE = rf"[A-Za-z0-9_][A-Za-z0-9_.,/ \-~+@()]*|-[0-9][0-9.]*|{_QUOTED}"
_ENTRY = re.compile(rf"( *)(?:({_KEY}):(?: +({_VALUE}))?|- +({_VALUE}))")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_RESOLVERS: dict[Any, list[tuple[str, re.Pattern[str]]]] = (
    yaml.resolver.Resolver.yaml_implicit_resolvers
)
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("null", "Null", "NULL"), None),
    **dict.fromkeys(("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"), False),
}
_STR = "tag:yaml.org,2002:str"


class _Outside(Exception):
    """The document leaves the subset."""


def read(text: str) -> Any:
    """The document in `text` as `yaml.safe_load` reads it, or OUTSIDE."""
    if "\t" in text or "\r" in text:
        return OUTSIDE
    try:
        return _document(text)
    except _Outside:
        return OUTSIDE


def _document(text: str) -> Any:
    root: Any = None
    # Open blocks, innermost last: (indentation, the dict or list).
    stack: list[tuple[int, dict[Any, Any] | list[Any]]] = []
    pending: tuple[int, dict[Any, Any], Any] | None = None  # "key:" awaiting its block
    for line in text.split("\n"):
        line = line.rstrip(" ")
        stripped = line.lstrip(" ")
        if not stripped:
            continue
        if stripped[0] == "#":
            if not (stripped.isascii() and stripped.isprintable()):
                raise _Outside  # PyYAML refuses some characters even in comments
            continue
        m = _ENTRY.fullmatch(line)
        if m is None:
            raise _Outside
        indent, key, value, item = len(m[1]), m[2], m[3], m[4]
        is_item = key is None
        if pending is not None:
            at, parent, name = pending
            pending = None
            if indent > at or (is_item and indent == at):
                block: dict[Any, Any] | list[Any] = [] if is_item else {}
                parent[name] = block
                stack.append((indent, block))
                if len(stack) > MAX_DEPTH:
                    raise _Outside
            else:
                parent[name] = None
        elif not stack:
            if indent:
                raise _Outside
            root = [] if is_item else {}
            stack.append((0, root))
        while stack and stack[-1][0] > indent:
            stack.pop()
        if not stack or stack[-1][0] != indent:
            raise _Outside
        container = stack[-1][1]
        if is_item:
            if not isinstance(container, list):
                raise _Outside
            container.append(_scalar(item))
            continue
        if isinstance(container, list):
            # A key at a sequence's own indentation ends that sequence (PyYAML's layout).
            stack.pop()
            if not stack or stack[-1][0] != indent or not isinstance(stack[-1][1], dict):
                raise _Outside
            container = stack[-1][1]
        assert isinstance(container, dict)
        name = _scalar(key)
        if value is None:
            pending = (indent, container, name)
        else:
            container[name] = _scalar(value)
    if pending is not None:
        pending[1][pending[2]] = None
    if not stack:
        raise _Outside  # an empty document: PyYAML's to read
    return root


def _scalar(text: str) -> Any:
    """A plain or quoted scalar as PyYAML's safe loader constructs it."""
    first = text[0]
    if first == "'" or first == '"':
        return text[1:-1]
    if first not in _RESOLVERS:
        return text
    if text in _WORDS:
        return _WORDS[text]
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INT.fullmatch(text):
        return int(text)
    if (d := _DATE.fullmatch(text)) is not None:
        try:
            return date(int(d[1]), int(d[2]), int(d[3]))
        except ValueError:
            raise _Outside from None  # PyYAML's to refuse
    for tag, pattern in _RESOLVERS[first]:
        if pattern.match(text):
            if tag != _STR:
                raise _Outside  # a form whose construction PyYAML should do
            break
    return text
