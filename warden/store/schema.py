"""Table definitions. The migrations in `migrations/versions/` create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike.

    On SQLite the value is text in SQLAlchemy's own DATETIME format (fixed width, so it sorts
    and compares in time order), parsed with the C `fromisoformat` rather than a regex."""

    impl = DateTime(timezone=True)
    cache_ok = True
    SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: warden stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.strftime(self.SQLITE_FORMAT) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BigInteger primary keys stay INTEGER on SQLite so they autoincrement there.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

feeds = Table(
    "feeds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    # What the feed has already read (source -> version), so a restart stays incremental.
    Column("cursor", JSON),
)

feed_runs = Table(
    "feed_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(64), nullable=False, index=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False),  # running | ok | failed | interrupted
    Column("ingested", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("error", Text),
    # Why a failed run failed, from a small fixed set (warden.ingest.feedrun.FAILURE_REASONS).
    Column("error_reason", String(32)),
    # The leadership epoch the run started under (warden.store.engine.write_epoch); NULL on
    # SQLite (one process, no election) and for runs recorded before it was kept.
    Column("epoch", BigInteger),
)

observations = Table(
    "observations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("benchmark", String(200), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("stderr", Float),
    Column("n", Integer),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("attributes", JSON, nullable=False),
    # False when the registry did not know the id and it was kept raw (NULL: not normalised).
    Column("benchmark_known", Boolean),
    Column("model_known", Boolean),
    # Reported by the model's developer about its own model (model cards).
    Column("vendor_reported", Boolean, nullable=False, server_default=false()),
    # The setting the model ran at (an effort level, a scaffold; the `variant` attribute), ""
    # when none: a series is (benchmark, metric, subject, variant).
    Column("variant", String(200), nullable=False, server_default=""),
    # Who measured it (vendor, independent, own; the `measured_by` attribute): a series is
    # also per measurer, and a threshold's `evidence` chooses which it reads.
    Column("measured_by", String(16), nullable=False, server_default="own"),
    UniqueConstraint("feed", "key", name="uq_observations_feed_key"),
    # Covers the evaluator's read (store/observations.py, series): newest first per series.
    Index(
        "ix_observations_series",
        "benchmark",
        "metric",
        "subject",
        "variant",
        text("observed_at DESC"),
        "key",
        "value",
        "id",
        "stderr",
        "n",
        "feed",
        "measured_by",
    ),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("record", Text),
    Column("field", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # The same bad bytes from the same place are one reject, however often they are read.
    Column("identity", String(64), nullable=False),
    # Set when a retry read the source again and it no longer gave this rejection, or when
    # someone dismissed it (`warden rejects dismiss`: then also who and why).
    Column("resolved_at", UTCDateTime),
    Column("dismissed_by", String(200)),
    Column("dismiss_reason", Text),
    UniqueConstraint("feed", "identity", name="uq_rejects_feed_identity"),
)

# Evaluation runs that ended without results (an Inspect log whose status is `error` or
# `cancelled`): what happened, recorded once, not a reject of bad input that stays open.
failed_runs = Table(
    "failed_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # error | cancelled
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("identity", String(64), nullable=False),  # as a reject's: the same log is one row
    UniqueConstraint("feed", "identity", name="uq_failed_runs_feed_identity"),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("threshold", String(200), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("threshold_version", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The last evaluation that found it breached (kept for thresholds with keep_firing_for).
    Column("last_breached_at", UTCDateTime),
    # `warden ack`: stops repeats and escalation until the alert resolves.
    Column("acked_by", String(200)),
    Column("acked_at", UTCDateTime),
    Column("ack_note", Text),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matchers", JSON, nullable=False),  # {"match": {...}, "match_re": {...}}
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when it ended early (`warden silence expire`) or when its end was logged.
    Column("expired_at", UTCDateTime),
    Column("expired_by", String(200)),
)

# Per firing alert and route: when it was last notified (for repeat_interval), how often it
# was repeated, and when it was escalated. Cleared when the alert stops firing.
notices = Table(
    "notices",
    metadata,
    Column("threshold", String(200), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("route", Integer, primary_key=True),
    Column("last_at", UTCDateTime, nullable=False),
    Column("repeats", Integer, nullable=False, server_default="0"),
    Column("escalated_at", UTCDateTime),
)

triggers = Table(
    "triggers",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("threshold", String(200), nullable=False, index=True),
    Column("threshold_version", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("content", Text, nullable=False),  # the canonical JSON that was hashed
    Column("prev_hash", String(64), nullable=False, unique=True),  # no fork in the chain
    Column("hash", String(64), nullable=False, unique=True),
    # transition (an alert state changed) or catalog (thresholds added, changed, removed)
    Column("kind", String(16), nullable=False, server_default="transition"),
    # The leadership epoch the entry was written under (warden.store.engine.write_epoch), not
    # part of the hashed content (warden.triggerlog.entries says why); NULL on SQLite and for
    # entries written before it was kept.
    Column("epoch", BigInteger),
    # Keyset paging of the read API (warden/store/reads.py): each filter, newest first.
    Index("ix_triggers_threshold_seq", "threshold", "seq"),
    Index("ix_triggers_alert_seq", "threshold", "subject", "seq"),
    Index("ix_triggers_subject_seq", "subject", "seq"),
    Index("ix_triggers_kind_seq", "kind", "seq"),
    Index("ix_triggers_to_state_seq", "to_state", "seq"),
    Index("ix_triggers_at", "at"),
)

# Every threshold definition the catalog has had, by its version hash (the catalog entries of
# the trigger log name the versions): replay re-derives a trigger under the rule as it was.
threshold_definitions = Table(
    "threshold_definitions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("threshold", String(200), nullable=False),
    Column("definition", Text, nullable=False),  # the canonical JSON whose SHA-256 is `version`
    Column("first_seen_at", UTCDateTime, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False, index=True),
    Column("assessed_at", UTCDateTime, nullable=False),
    Column("by", String(200), nullable=False),
    Column("compute", Float),  # training compute (FLOP) of the model assessed
    Column("note", Text, nullable=False, server_default=""),
    Column("trigger_seq", BigInteger, nullable=False),  # its entry in the trigger log
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("trigger_seq", Id, ForeignKey("triggers.seq"), nullable=False),
    Column("sink", String(64), nullable=False),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # pending | delivered | failed | superseded
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claim_token", String(32)),
    Column("claim_expires_at", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # "THRESHOLD SUBJECT": notifications of one alert reach each sink in order (outbox.claim).
    Column("alert", String(400)),
    # When `warden deliveries retry` re-drove the row: its retries' age bound counts from then.
    Column("retry_since_at", UTCDateTime),
    # Which daemon holds the lease (its host name): a daemon restarted after a crash takes its
    # own leases back at once instead of waiting them out.
    Column("claim_owner", String(200)),
    # Rows of one group (route, group_by labels; history apart) due together are sent as one
    # notification (warden.delivery.dispatch).
    Column("group_key", String(400)),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_alert", "sink", "alert", "status", "id"),
    Index("ix_outbox_trigger_seq", "trigger_seq"),  # a trigger's deliveries (read API)
)

# When warden started watching each threshold (its first evaluation): evidence older than that,
# or than its feed's first run, is history: its transitions reach people as one summary.
watched = Table(
    "watched",
    metadata,
    Column("threshold", String(200), primary_key=True),
    Column("since_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False, index=True),
    Column("sink", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | retry | failed
    Column("error", Text),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_seconds", Float, nullable=False),
)

# The Merkle tree over the trigger log (RFC 6962): the hash of every complete subtree, stored
# when its last leaf is appended, at its sumdb/tlog stored-hash index (warden/core/merkle.py).
merkle_hashes = Table(
    "merkle_hashes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Checkpoints (signed tree heads) warden issued: the newest is served and written to a file.
log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),  # hex
    Column("created_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False),  # the checkpoint text as issued, signed or not
    Column("key_id", String(16)),  # the Ed25519 key that signed it (None: unsigned)
)

# High availability on PostgreSQL (warden/store/leader.py): the leadership epoch (one row, id 1),
# the fencing token every leader-only write checks, and the replicas with their heartbeats.
leadership = Table(
    "leadership",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
    Column("leader", String(200)),  # the replica that took this epoch
    Column("since", UTCDateTime),
)

replicas = Table(
    "replicas",
    metadata,
    Column("id", String(200), primary_key=True),  # host:port
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("leader_epoch", BigInteger),  # the epoch it leads under; None: a follower
)
