"""Ingest through real stores with small connectors of our own: batching, connector bugs,
payloads the database refuses, and streams (a parse that yields) read in bounded memory and
stored all or nothing."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from warden.core.errors import NotReady, ParseError
from warden.core.model import Observation, Payload, Pending, Rejection
from warden.ingest.connector import Cursor, sha256
from warden.ingest.feedrun import run_feed
from warden.store import Store
from warden.store.schema import observations, rejects

T = datetime(2026, 1, 1, tzinfo=UTC)


class Numbers:
    """A connector over in-memory payloads: each payload's content is a model id; payloads whose
    content starts with 'bug' make parse raise, like a connector bug would."""

    name: ClassVar[str] = "numbers"

    def __init__(self, contents: list[str]) -> None:
        self.contents = contents

    def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
        for i, text in enumerate(self.contents):
            data = text.encode()
            if not cursor.unchanged(f"p{i}", text):
                yield Payload(f"p{i}", data, sha256(data), version=text)

    def parse(self, payload: Payload) -> list[Observation]:
        model = payload.content.decode()
        if model.startswith("bug"):
            raise RuntimeError("connector bug")
        return [
            Observation(
                model,
                "bench",
                f"m{j}",
                0.5,
                T,
                f"{model}-{j}",
                payload.source,
                payload.content_hash,
            )
            for j in range(3)
        ]


def counted(store: Store) -> tuple[int, dict[str, int]]:
    with store.read() as conn:
        n = conn.execute(select(func.count()).select_from(observations)).scalar_one()
        by_reason: Mapping[str, int] = dict(
            conn.execute(select(rejects.c.reason, func.count()).group_by(rejects.c.reason)).all()
        )
    return n, dict(by_reason)


def test_many_payloads_are_stored_in_batches_and_the_cursor_skips_them_next_time(
    store: Store,
) -> None:
    connector = Numbers([f"model-{i}" for i in range(25)])
    cursor = Cursor()
    r = run_feed(store, "f", connector, cursor, lambda: T, batch=10)
    assert (r.ingested, r.duplicates, r.rejected, r.error) == (75, 0, 0, None)
    assert counted(store) == (75, {})
    assert r.touched == {("bench", "m0"), ("bench", "m1"), ("bench", "m2")}
    again = run_feed(store, "f", connector, cursor, lambda: T, batch=10)
    assert (again.ingested, again.duplicates) == (0, 0)  # nothing re-read
    fresh = run_feed(store, "f", connector, Cursor(), lambda: T, batch=10)
    assert (fresh.ingested, fresh.duplicates) == (0, 75)  # re-read, nothing added


def test_a_connector_bug_rejects_that_payload_and_the_run_goes_on(store: Store) -> None:
    cursor = Cursor()
    r = run_feed(store, "f", Numbers(["a", "bug-1", "b"]), cursor, lambda: T)
    assert (r.ingested, r.rejected, r.error) == (6, 1, None)
    (bad,) = r.rejections
    assert bad.reason == "internal_error" and "RuntimeError: connector bug" in bad.message
    assert counted(store) == (6, {"internal_error": 1})
    assert "p1" not in cursor.versions  # tried again next run


def test_a_payload_the_database_refuses_is_rejected_alone(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite stores any text; PostgreSQL enforces the id width")
    too_long = "m" * 300
    r = run_feed(store, "f", Numbers(["a", too_long, "b"]), Cursor(), lambda: T)
    assert (r.ingested, r.rejected) == (6, 1)
    assert r.rejections[0].reason == "unstorable" and r.rejections[0].source == "p1"
    assert counted(store) == (6, {"unstorable": 1})


def test_reject_text_with_nul_is_recorded(store: Store) -> None:
    from warden.store.observations import insert_reject

    with store.write() as conn:
        assert insert_reject(conn, "f", Rejection("a\x00b", "malformed", "bad \x00 byte"), T)
    with store.read() as conn:
        source, message = conn.execute(select(rejects.c.source, rejects.c.message)).one()
    assert "\x00" not in source + message and "bad" in message


def test_a_source_that_fails_mid_run_keeps_what_was_read(store: Store) -> None:
    class Failing(Numbers):
        def fetch(self, cursor: Cursor) -> Iterator[Payload | Rejection | Pending]:
            yield from super().fetch(cursor)
            raise OSError("connection reset")

    r = run_feed(store, "f", Failing(["a", "b"]), Cursor(), lambda: T)
    assert r.error == "OSError: connection reset" and r.ingested == 6
    assert counted(store) == (6, {})


def test_a_persisted_cursor_resumes_after_a_restart(store: Store) -> None:
    first = run_feed(store, "f", Numbers(["a", "b"]), Cursor(), lambda: T, persist=True)
    assert first.ingested == 6
    # A new process: a fresh, empty cursor resumes from the one saved with the feed.
    cursor = Cursor()
    again = run_feed(store, "f", Numbers(["a", "b", "c"]), cursor, lambda: T, persist=True)
    assert (again.ingested, again.duplicates) == (3, 0)  # only "c" was read
    assert cursor.versions == {"p0": "a", "p1": "b", "p2": "c"}
    # Without persist (the `warden ingest` command) every input is read again.
    once_more = run_feed(store, "f", Numbers(["a", "b", "c"]), Cursor(), lambda: T)
    assert (once_more.ingested, once_more.duplicates) == (0, 9)


# -- streams: a connector whose parse yields -------------------------------------------------
class Streams(Numbers):
    """Payloads whose content is `model:count[:fault]`: parse yields `count` observations of
    `model` one at a time, every 500th a refused record, and with a fault (`parse_error`,
    `not_ready` or `bug`) raises it once 90 % of them have been yielded. `alive` counts the
    observations yielded that something still refers to."""

    name: ClassVar[str] = "streams"

    def __init__(self, contents: list[str]) -> None:
        super().__init__(contents)
        self.alive = self.most_alive = 0

    def _died(self) -> None:
        self.alive -= 1

    def parse(self, payload: Payload) -> Iterator[Observation | Rejection]:  # type: ignore[override]
        model, count, *fault = payload.content.decode().split(":")
        for j in range(int(count)):
            if fault and j == int(count) * 9 // 10:
                if fault[0] == "parse_error":
                    raise ParseError("invalid_value", "bad", record=str(j), field="v")
                if fault[0] == "not_ready":
                    raise NotReady(payload.source, "still being written")
                raise RuntimeError("connector bug")
            if j % 500 == 499:
                yield Rejection(payload.source, "invalid_value", "bad", record=str(j))
                continue
            o = Observation(
                model, "bench", "m", j / int(count), T, f"{model}-{j}", payload.source,
                payload.content_hash,
            )  # fmt: skip
            weakref.finalize(o, self._died)
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
            yield o


def test_a_long_stream_is_stored_whole_without_being_held_whole(store: Store) -> None:
    connector = Streams(["a:2500", "b:40", "c:3000"])
    cursor = Cursor()
    r = run_feed(store, "f", connector, cursor, lambda: T, batch=100)
    assert (r.ingested, r.rejected, r.error) == (5540 - 11, 11, None)  # every 500th refused
    assert counted(store) == (5529, {"invalid_value": 11})
    assert {x.record for x in r.rejections} >= {"499", "2499", "2999"}
    assert cursor.versions == {"p0": "a:2500", "p1": "b:40", "p2": "c:3000"}
    assert r.touched == {("bench", "m")}
    # The short payload staged (40), the chunk being read and the one before it: never a
    # whole payload.
    assert connector.most_alive <= 40 + 2 * 100 + 1
    again = run_feed(store, "f", Streams(["a:2500", "b:40", "c:3000"]), Cursor(), lambda: T)
    assert (again.ingested, again.duplicates, again.new_rejects) == (0, 5529, 0)


@pytest.mark.parametrize("fault", ["parse_error", "not_ready", "bug"])
def test_a_stream_that_fails_late_stores_nothing_of_its_payload(store: Store, fault: str) -> None:
    cursor = Cursor()
    r = run_feed(store, "f", Streams(["a:300", f"b:2500:{fault}", "c:300"]), cursor, lambda: T)
    # 2,250 observations of b were read before the fault: none of them is stored, nor any of
    # its refused records; a and c are.
    assert r.ingested == 2 * (300 - 0) and r.error is None
    with store.read() as conn:
        subjects = set(conn.execute(select(observations.c.subject)).scalars())
        rejected = set(conn.execute(select(rejects.c.source, rejects.c.reason)).all())
    assert subjects == {"a", "c"}
    if fault == "not_ready":  # skipped, read again next run
        assert (r.skipped, r.rejected, rejected) == (1, 0, set())
        assert "p1" not in cursor.versions
    elif fault == "bug":  # rejected, tried again next run
        assert rejected == {("p1", "internal_error")} and "p1" not in cursor.versions
    else:  # rejected for good, with the record and field where it failed
        (bad,) = r.rejections
        assert (bad.source, bad.reason, bad.record, bad.field) == (
            "p1",
            "invalid_value",
            "2250",
            "v",
        )
        assert (
            rejected == {("p1", "invalid_value")} and cursor.versions["p1"] == "b:2500:parse_error"
        )


def test_a_stream_the_database_refuses_is_rejected_whole(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite stores any text; PostgreSQL enforces the id width")
    r = run_feed(store, "f", Streams(["a:30", f"{'m' * 300}:2500", "c:30"]), Cursor(), lambda: T)
    assert [x.reason for x in r.rejections if x.source == "p1"][-1] == "unstorable"
    assert counted(store)[0] == 60 == r.ingested
