"""Mapped feeds: CSV files and JSON documents warden has no connector for, read through a
mapping the feed's options declare (connectors `csv`: `CsvFeed`, and `json`: `JsonFeed`).

Each observation field is taken from a column (CSV: `{column: Score}`), a field path inside the
record (JSON: `{field: scores.accuracy}`) or a constant (`{value: gpqa_diamond}`). `model`,
`benchmark`, `metric` and `value` are required; `stderr`, `n` and `time` are optional. Example:

    feeds:
      - id: lab-sheet
        connector: csv
        options:
          source: /data/lab/scores.csv
          model: {column: Model}
          benchmark: {value: gpqa_diamond}     # the same for every row
          metric: {value: accuracy}
          value: {column: Score}
          stderr: {column: SE}                 # optional; empty / NA / N/A cells: no stderr
          n: {column: Questions}               # optional sample count
          time: {column: Evaluated}            # optional; without it: the file's mtime
          time_format: iso8601                 # or epoch_seconds, epoch_milliseconds, %d/%m/%Y
          timezone: Europe/London              # for times without an offset (default UTC)
          timestamp_kind: run_end              # what the time means (default "reported")
          scale: percent                       # the scale the values are in
          attributes: {organisation: Lab, scaffold: {value: in-house-agent}}
          # who measured it (vendor, independent, own; default own): a constant or a column
          # attributes: {measured_by: {value: independent}}
          delimiter: ";"                       # CSV dialect: delimiter, quotechar, encoding,
          decimal: ","                         # decimal mark ("." default)
      - id: partner-board
        connector: json
        options:
          source: https://example.org/board.json
          records: data.results[*]             # where the records are
          model: {field: model.name}           # paths relative to each record
          benchmark: {field: task}
          metric: {value: accuracy}
          value: {field: "scores['acc']"}

This module holds the two feeds: reading a file into records and a record into an observation.
The options, the path syntax and the value rules (numbers, times, ids, counts, scales) are in
connectors/mapping.py.

Traps handled here: a BOM, rows with more cells than the header (an unquoted delimiter; missing
trailing cells are empty), a file cut short (inside a quoted cell, or a short last row without a
line end: `truncated`; a JSON document: see connectors/documents.py), duplicated rows (one
observation: the key is the content, not the position), times without an offset (noted in
attribute `timezone_assumed`).
A mapped column missing from the header rejects the whole file, naming it and listing the header;
a bad cell rejects its row only (record `row N`, the header being row 1; field: the column).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any, ClassVar

from connectors.documents import Bad, dedupe, json_document
from connectors.mapping import (
    MISSING,
    CsvOptions,
    FeedOptions,
    JsonOptions,
    Spec,
    attribute,
    convert,
    expand,
    find,
    missing,
    parse_path,
    to_time,
)
from connectors.source import Documents
from connectors.tabular import looks_like_header, shown_header
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection, measured_by
from warden.core.plugins import options
from warden.ingest.connector import content_key, rejected

Getter = Callable[[Spec], Any]


class _Feed(Documents):
    """What the CSV and JSON feeds share: turning one record's raw values into an observation."""

    options: FeedOptions
    specs: dict[str, Spec]

    def _check(self, payload: Payload) -> None:
        if self.options.time is None and payload.fetched_at is None:
            why = "the feed maps no time and the payload has no fetch time to use instead"
            raise ParseError("missing_field", why, source=payload.source, field="time")

    def _observation(self, payload: Payload, record: str, get: Getter) -> Observation | Rejection:
        o = self.options
        values: dict[str, Any] = {}
        attrs: dict[str, Any] = {"record": record}
        for name, spec in self.specs.items():
            raw = get(spec)
            try:
                if name.startswith("attributes."):
                    if not missing(raw):
                        attrs[name.removeprefix("attributes.")] = attribute(
                            name.removeprefix("attributes."), raw, o.decimal
                        )
                elif missing(raw):
                    if name not in ("stderr", "n"):
                        raise Bad("missing_field", "no value")
                elif name == "time":
                    values["time"], assumed = to_time(raw, o.time_format, o.timezone)
                    if assumed:
                        attrs["timezone_assumed"] = o.timezone
                else:
                    values[name] = convert(name, raw, o.decimal, o.scale)
            except Bad as exc:
                where = spec.column or spec.field
                label = f"{o.SELECTOR} {where!r}" if where else f"constant {name}"
                message, src, field = f"{record}, {label}: {exc.message}", payload.source, name
                error = ParseError(
                    exc.reason, message, source=src, record=record, field=where or field
                )
                return rejected(payload, error)
        observed_at = values.get("time")
        if observed_at is None:
            assert payload.fetched_at is not None  # checked by `_check`
            observed_at = payload.fetched_at.astimezone(UTC)
        attrs["timestamp_kind"] = o.timestamp_kind if "time" in values else "fetched"
        if o.scale is not None:
            attrs["scale"] = o.scale
        shown = json.dumps({k: v for k, v in attrs.items() if k != "record"}, sort_keys=True)
        # Who measured it: as mapped (`attributes: {measured_by: {value: vendor}}`), else the
        # vendor when mapped `vendor_reported`, else this deployment (`own`). Set after the key,
        # so that the default does not change the identity of rows stored before it existed.
        attrs.setdefault("measured_by", measured_by(attrs))
        return Observation(
            subject=values["model"],
            benchmark=values["benchmark"],
            metric=values["metric"],
            value=values["value"],
            observed_at=observed_at,
            # The time is part of the identity only when the source states it (a fetch time
            # changes whenever the file is touched).
            key=content_key(
                *(values.get(k) for k in ("model", "benchmark", "metric", "value", "stderr", "n")),
                "time" in values and observed_at.isoformat(),
                shown,
            ),
            source=payload.source,
            content_hash=payload.content_hash,
            stderr=values.get("stderr"),
            n=values.get("n"),
            attributes=attrs,
        )


class CsvFeed(_Feed):
    name: ClassVar[str] = "csv"
    SUFFIXES = (".csv", ".tsv")
    WHAT = "CSV files"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "csv") -> None:
        self.options = self.csv = options(CsvOptions, raw_options, where)
        self.specs = self.csv.specs()

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        src, o = payload.source, self.csv
        self._check(payload)
        try:
            text = payload.content.decode(o.encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise ParseError(
                "malformed",
                f"not {o.encoding} text ({exc.reason} at byte {exc.start}); "
                "set the option encoding",
                source=src,
            ) from exc
        if text.lstrip()[:1] == "<":
            raise ParseError("malformed", "an HTML or XML page, not CSV", source=src)
        rows = csv.reader(
            io.StringIO(text, newline=""), delimiter=o.delimiter, quotechar=o.quotechar, strict=True
        )
        out: list[Observation | Rejection] = []
        row, cells, header = 0, list[str](), list[str]()
        try:
            header, row = [h.strip() for h in next(rows, [])], 1
            if not any(header):
                raise ParseError("malformed", "empty: no header row", source=src)
            index = _columns(self.specs, header, src)
            for row, cells in enumerate(rows, start=2):
                if not any(c.strip() for c in cells):
                    continue  # a blank row
                record = f"row {row}"
                if len(cells) > len(header):
                    message = (
                        f"{record} has {len(cells)} cells but the header has {len(header)} "
                        "(an unquoted delimiter?)"
                    )
                    error = ParseError("invalid_value", message, source=src, record=record)
                    out.append(rejected(payload, error))
                    continue

                def get(spec: Spec, cells: list[str] = cells) -> Any:
                    if spec.column is None:
                        return spec.value
                    i = index[spec.column]
                    return cells[i] if i < len(cells) else MISSING

                out.append(self._observation(payload, record, get))
        except csv.Error as exc:
            reason = "truncated" if "unexpected end of data" in str(exc) else "malformed"
            raise ParseError(reason, f"row {row + 1}: not CSV: {exc}", source=src) from exc
        if len(cells) < len(header) and any(cells) and not text.endswith(("\n", "\r")):
            why = f"the last row has {len(cells)} of {len(header)} cells and no line end"
            raise ParseError("truncated", f"{why}: the file was cut short", source=src)
        return dedupe(out)


def _columns(specs: dict[str, Spec], header: list[str], src: str) -> dict[str, int]:
    """Where each mapped column is in `header`; ParseError naming a column it lacks."""
    index: dict[str, int] = {}
    for spec in specs.values():
        name = spec.column
        if name is None or name in index:
            continue
        if header.count(name) > 1:
            message = f"column {name!r} appears {header.count(name)} times in the header"
            raise ParseError("malformed", message, source=src, field=name)
        if name not in header:
            if not looks_like_header(header):  # not a CSV table: its first line is not quoted
                message = (
                    f"column {name!r} is not in the header; the header is {shown_header(header)}"
                )
                raise ParseError("missing_field", message, source=src, field=name)
            close = difflib.get_close_matches(name, header, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(repr(h) for h in header[:50])
            message = f"column {name!r} is not in the header{hint}; the header is: {shown:.1000}"
            raise ParseError("missing_field", message, source=src, field=name)
        index[name] = header.index(name)
    return index


class JsonFeed(_Feed):
    name: ClassVar[str] = "json"
    SUFFIXES = (".json",)
    WHAT = "JSON files"

    def __init__(self, raw_options: Mapping[str, Any], where: str = "json") -> None:
        self.options = self.json = options(JsonOptions, raw_options, where)
        self.specs = self.json.specs()
        self.records = parse_path(self.json.records, wildcards=True)
        self.paths = {
            s.field: parse_path(s.field, wildcards=False)
            for s in self.specs.values()
            if s.field is not None
        }

    def parse(self, payload: Payload) -> list[Observation | Rejection]:
        src = payload.source
        self._check(payload)
        doc = json_document(payload.content, src, "the document")
        try:
            found = list(expand(doc, self.records))
        except Bad as exc:
            message = f"records {self.json.records!r}: {exc.message}"
            raise ParseError(exc.reason, message, source=src, field=self.json.records) from exc
        out: list[Observation | Rejection] = []
        for record, item in found:
            if not isinstance(item, dict):
                hint = " (add [*] to records to read its elements)" * isinstance(item, list)
                bad = (
                    item
                    if isinstance(item, Bad)
                    else Bad("invalid_value", f"not an object: {item!r:.80}{hint}")
                )
                error = ParseError(
                    bad.reason, f"{record}: {bad.message}", source=src, record=record
                )
                out.append(rejected(payload, error))
                continue

            def get(spec: Spec, item: dict[str, Any] = item) -> Any:
                return spec.value if spec.field is None else find(item, self.paths[spec.field])

            out.append(self._observation(payload, record, get))
        return dedupe(out)
