"""What the connectors reading whole documents share (mapped, swebench, helm, hf_model_index,
inspect_logs, lm_eval, metr).

- `json_document`: a JSON document, telling a truncated one (the text ends before the document
  does: a partial download, a file still being written) from a malformed one (an HTML error
  page, not JSON at all).
- `safe_yaml`: a YAML document read by yaml's safe loader, refusing more than a given number of
  aliases, or aliases expanding it past a given number of values (a "billion laughs" document
  expands a few hundred bytes into gigabytes); plain block YAML by connectors/blockyaml.py's
  faster reader.
- `object_at`: an optional object-valued field of a JSON or YAML object.
- The store's limits and the checks against them: `MAX_ID` (subject, benchmark and metric ids:
  `is_id`, `require_id`, `short_text`) and `MAX_COUNT` (sample counts: `valid_count`);
  `finite_number`, a finite number or None; `real_number`, a number or ParseError;
  `standard_error`, a stderr (NaN: none computed) or ParseError.
- `fetch_time`: the payload's fetch time as aware UTC, for sources that carry no time.
- `Bad`, a value that cannot become what it is read as, for the caller to turn into a
  ParseError naming the record and field; `dedupe`, one observation per content key.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, TypeGuard

import yaml

from connectors import blockyaml
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection

MAX_ID = 200  # the store's width for subject, benchmark and metric ids
MAX_COUNT = 2**31 - 1  # the store's sample count is a 32-bit integer


class Bad(Exception):
    """A value that cannot become what it is mapped to: (reason, message)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


# -- documents -------------------------------------------------------------------------------
def json_document(content: bytes | str, source: str, what: str, field: str | None = None) -> Any:
    """The JSON document in `content`, or ParseError (with `field`): `truncated` when the text
    ends before the document does, `malformed` otherwise. NaN and Infinity literals are read as
    floats."""
    if not content.strip():
        raise ParseError("malformed", f"{what} is empty", source=source, field=field)
    try:
        return json.loads(content)
    except RecursionError as exc:
        message = f"{what}: JSON nested too deeply"
        raise ParseError("malformed", message, source=source, field=field) from exc
    except json.JSONDecodeError as exc:
        ended = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
        if ended and exc.doc.strip():
            why = f"ends before its JSON does ({exc.msg} at its end): a partial download or copy?"
            raise ParseError("truncated", f"{what} {why}", source=source, field=field) from exc
        html = exc.pos == 0 and exc.doc.lstrip()[:1] == "<"
        why = "is an HTML or XML page, not JSON" if html else f"is not JSON: {exc}"
        raise ParseError("malformed", f"{what} {why}", source=source, field=field) from exc
    except ValueError as exc:  # UnicodeDecodeError, over-long integers
        message = f"{what} is not JSON: {exc}"
        raise ParseError("malformed", message, source=source, field=field) from exc


class TooManyAliases(yaml.YAMLError):
    """A YAML document using more aliases than its loader allows."""


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing documents with more than `max_aliases` aliases."""

    def __init__(self, stream: str, max_aliases: int) -> None:
        super().__init__(stream)
        self.max_aliases, self.aliases = max_aliases, 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise TooManyAliases(f"more than {self.max_aliases} aliases")
        return super().compose_node(parent, index)


# libyaml's safe loader when PyYAML has it (several times faster), else the pure-Python one.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_yaml(text: str, max_aliases: int | None = None, *, max_values: int | None = None) -> Any:
    """The YAML document in `text`, read with yaml's safe loader, with a limit on aliases (at
    least one of the two must be given):

    - `max_aliases`: refuses more than that many aliases, counted as they are read (by the
      pure-Python loader, whose composer can count them);
    - `max_values`: refuses a document whose aliases would expand it past that many values
      (each alias counted as a copy of what it names; an alias inside its own anchor, as
      expanding forever). The loader shares what an alias names instead of copying it, so
      reading a "billion laughs" is cheap and only this count walks it; with `max_values` alone
      the document is read by libyaml's safe loader when PyYAML has it (several times faster).

    A document in plain block style (connectors/blockyaml.py: no aliases, no tags) is read by the
    fast line reader instead, with the same result.

    Raises what yaml raises (yaml.YAMLError, and ValueError and the like from its constructors),
    TooManyAliases (a yaml.YAMLError) past either limit, RecursionError when nested too deeply."""
    if max_aliases is None and max_values is None:
        raise TypeError("safe_yaml needs max_aliases or max_values")
    if (plain := blockyaml.read(text)) is not blockyaml.OUTSIDE:
        return plain
    # The pure-Python loader counts aliases (and refuses control characters at once).
    loader = _Loader(text, max_aliases) if max_aliases is not None else _FAST_LOADER(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    # Aliases need anchors: without an `&`, none.
    if (
        max_values is not None
        and "&" in text
        and _expanded(data, max_values, {}, set()) > max_values
    ):
        raise TooManyAliases(f"aliases expand the document past {max_values} values")
    return data


def _expanded(value: Any, limit: int, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values `value` stands for once every shared one is copied out, counted up to
    just past `limit` (a value inside itself: no end)."""
    if isinstance(value, dict):
        children: Any = (v for pair in value.items() for v in pair)
    elif isinstance(value, list | tuple | set):
        children = value
    else:
        return 1
    done = sizes.get(id(value))
    if done is not None:
        return done
    if id(value) in open_:
        return limit + 1  # an alias inside its own anchor: expands forever
    open_.add(id(value))
    total = 1
    for child in children:
        total += _expanded(child, limit, sizes, open_)
        if total > limit:
            break
    open_.discard(id(value))
    sizes[id(value)] = total
    return total


def object_at(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` when it is an object: an optional object-valued field, anything else (absent,
    null, a list) counting as absent (an empty object)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


# -- the store's limits ----------------------------------------------------------------------
def is_id(value: Any) -> TypeGuard[str]:
    """An id the store keeps: text of 1 to MAX_ID printable characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable()


def require_id(
    text: Any, source: str, field: str, record: str | None = None, *, raw: Any = None
) -> str:
    """`text` when it is an id (`is_id`), else ParseError `invalid_value` naming `raw` (what
    `text` was read from, when given) or `text`."""
    if is_id(text):
        return text
    shown = text if raw is None else raw
    raise ParseError(
        "invalid_value",
        f"{shown!r:.80} is not an id (1 to {MAX_ID} printable characters)",
        source=source,
        record=record,
        field=field,
    )


def short_text(value: Any) -> str | None:
    """`value` when it is short printable text (an id, `is_id`) for the attributes, or None."""
    return value if is_id(value) else None


def valid_count(value: Any) -> int | None:
    """`value` when it is a sample count the store keeps (an integer from 0 to MAX_COUNT)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def finite_number(value: Any) -> float | None:
    """`value` as a float when it is a finite number (not a boolean, nor an integer too large
    for a float), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


def real_number(
    value: Any, source: str, field: str, record: str | None = None, *, finite: bool = False
) -> float:
    """`value`, a JSON or YAML number, as a float; ParseError `invalid_value` when it is not a
    number (a boolean is not), is an integer too large for a float, or (with `finite`) is NaN or
    infinite. Without `finite`, NaN and infinities are returned for the caller to judge."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        message = f"value {value!r:.80} is not a number"
        raise ParseError("invalid_value", message, source=source, record=record, field=field)
    try:
        number = float(value)
    except OverflowError as exc:
        message = "value is out of range"
        raise ParseError(
            "invalid_value", message, source=source, record=record, field=field
        ) from exc
    if finite and not math.isfinite(number):
        message = f"value {number!r} is not a finite number"
        raise ParseError("invalid_value", message, source=source, record=record, field=field)
    return number


def standard_error(
    value: float, source: str, field: str, record: str | None = None
) -> float | None:
    """`value` as a standard error: None when NaN (the source could not compute one);
    ParseError `invalid_value` when infinite or negative."""
    if math.isnan(value):
        return None
    if math.isinf(value) or value < 0:
        message = f"stderr {value!r} is not a finite non-negative number"
        raise ParseError("invalid_value", message, source=source, record=record, field=field)
    return value


# -- observations ----------------------------------------------------------------------------
def fetch_time(payload: Payload, what: str) -> datetime:
    """The payload's fetch time as aware UTC (a naive one, from a payload built by hand, is
    taken as UTC), for sources with no time of their own; ParseError `missing_field` without
    one. `what` names what carries no time ("model cards")."""
    when = payload.fetched_at
    if when is None:
        message = f"{what} carry no time and the payload has no fetch time"
        raise ParseError("missing_field", message, source=payload.source, field="fetched_at")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def dedupe(items: list[Observation | Rejection]) -> list[Observation | Rejection]:
    """One observation per key: a duplicated row is one measurement."""
    seen: set[str] = set()
    out: list[Observation | Rejection] = []
    for item in items:
        if isinstance(item, Observation):
            if item.key in seen:
                continue
            seen.add(item.key)
        out.append(item)
    return out
