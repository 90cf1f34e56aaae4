"""Threshold tests, like `promtool test rules` (format: docs/reference/threshold-tests.md).
Each test runs the real pipeline on a fresh SQLite file: at each time an observation or
expectation names, in order, that time's observations are stored and evaluated as the daemon
would (what they touch; everything at an expectation's time), with the clock fixed to it; then
that time's expectations are compared with the verdicts, alert states and triggers."""

from __future__ import annotations

import difflib
import hashlib
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from thresholds import bundled_catalog, bundled_registry
from warden.alerting.assessments import record
from warden.alerting.cycle import run_cycle
from warden.catalog.thresholds import Catalog, load_catalog
from warden.core.chain import TRANSITION
from warden.core.clock import Clock
from warden.core.errors import Problem, ProblemsError
from warden.core.model import Evaluation, Observation, State, Verdict
from warden.core.yamlfile import LocatedYaml, YamlError, problems_from
from warden.evaluation.evaluate import explain
from warden.store import Store
from warden.store import alerts as alert_rows
from warden.store import observations as obs_rows

FEED = "test"
BUNDLED = "bundled"  # as in the config's `catalog:`
EXAMPLE_TIME = "2026-01-01T00:00:00Z"


def _aware(value: Any) -> Any:
    """A time with a time zone, in UTC; naive times, dates and numbers are refused."""
    try:
        value = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        value = None
    if not isinstance(value, datetime):
        raise ValueError(f"not a time; write e.g. {EXAMPLE_TIME}")
    if value.utcoffset() is None:
        raise ValueError(f"a time needs a time zone, e.g. {EXAMPLE_TIME}")
    return value.astimezone(UTC)


Stamp = Annotated[datetime, BeforeValidator(_aware)]
Short = BeforeValidator(lambda v: {"verdict": v} if isinstance(v, str) else v)  # `x: breached`
Number = Annotated[float, Strict(), AllowInfNan(False)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ObservationSpec(_Strict):
    at: Stamp  # when it is ingested (and, unless `observed_at` says otherwise, observed)
    model: Text
    benchmark: Text
    metric: Text
    value: Number
    observed_at: Stamp | None = None
    stderr: Annotated[Number, Field(ge=0)] | None = None
    n: int | None = Field(None, ge=0)
    vendor_reported: bool = False
    measured_by: Literal["vendor", "independent", "own"] | None = None  # default: own

    @model_validator(mode="after")
    def _observed_before_ingest(self) -> ObservationSpec:
        if self.observed_at is not None and self.observed_at > self.at:
            raise ValueError("observed_at is after `at` (the time it is ingested)")
        return self


class AssessmentSpec(_Strict):
    """`warden assess record MODEL --by BY [--compute FLOP]`, run at `at`."""

    at: Stamp
    model: Text
    by: Text = "test"
    compute: Annotated[Number, Field(gt=0)] | None = None


class VerdictSpec(_Strict):
    verdict: Verdict
    value: Number | None = None
    model: Text | None = None  # the model the verdict rests on (for `frontier`: the best one)


class Step(_Strict):
    at: Stamp
    verdicts: dict[Text, dict[Text, Annotated[VerdictSpec, Short]]] = Field(default_factory=dict)
    states: dict[Text, dict[Text, State]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_something(self) -> Step:
        tables = [*self.verdicts.values(), *self.states.values()]
        if not tables or not all(tables):
            raise ValueError("names no expectation: give `verdicts:` or `states:`, each a mapping "
                             "threshold id -> {subject: expected}")  # fmt: skip
        return self


class TriggerSpec(_Strict):
    threshold: Text
    subject: Text
    from_: State = Field(alias="from")
    to: State
    at: Stamp | None = None


class Case(_Strict):
    name: Text
    observations: list[ObservationSpec] = Field(default_factory=list)
    assessments: list[AssessmentSpec] = Field(default_factory=list)
    expect: list[Step] = Field(default_factory=list)
    triggers: list[TriggerSpec] | None = None

    @model_validator(mode="after")
    def _expects_something(self) -> Case:
        if not self.expect and self.triggers is None:
            raise ValueError(
                "names no expectation: a test needs `expect:` (verdicts or states at a time) "
                "or `triggers:` (`triggers: []` expects none)"
            )
        times = [step.at for step in self.expect]
        if len(set(times)) < len(times):
            raise ValueError("two `expect:` entries at the same time; merge them")
        return self


class Suite(_Strict):
    catalog: list[Text] | None = Field(None, min_length=1)
    registry: list[Text] | None = None
    tests: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    name: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class FileResult:
    path: Path
    problems: tuple[Problem, ...] = ()  # the file could not run: bad input or catalog
    cases: tuple[CaseResult, ...] = ()


# The config's (catalog paths, registry paths), for files that do not name their own.
Defaults = Callable[[], tuple[list[Path], list[Path]]]


def run_files(paths: Iterable[Path], defaults: Defaults) -> list[FileResult]:
    """Run every test of every file. `defaults` may raise ProblemsError (a bad config)."""
    return [run_file(p, defaults) for p in paths]


def run_file(path: Path, defaults: Defaults) -> FileResult:
    try:
        doc = LocatedYaml.read(path)
    except YamlError as exc:
        return FileResult(path, tuple(exc.problems))
    if not isinstance(doc.data, dict):
        problem = Problem(doc.where([]), "a threshold test file must be a mapping with `tests:`")
        return FileResult(path, (problem,))
    try:
        suite = Suite.model_validate(doc.data)
    except ValidationError as exc:
        return FileResult(path, tuple(problems_from(exc, doc)))
    try:
        config = defaults() if suite.catalog is None or suite.registry is None else ([], [])
        catalog = load_catalog(
            _paths(path, suite.catalog, config[0], bundled_catalog()),
            _paths(path, suite.registry, config[1], bundled_registry()),
        )
    except ProblemsError as exc:
        head = Problem(doc.where(["catalog"]), "cannot load the catalog of these tests:")
        return FileResult(path, (head, *exc.problems))
    inputs = [_observations(catalog, case, doc, i) for i, case in enumerate(suite.tests)]
    problems = check(doc, suite, catalog, inputs)
    if problems:
        return FileResult(path, tuple(problems))
    cases = [
        CaseResult(c.name, tuple(run_case(catalog, c, inputs[i], doc, i)))
        for i, c in enumerate(suite.tests)
    ]
    return FileResult(path, (), tuple(cases))


def _paths(path: Path, given: list[str] | None, default: list[Path], bundled: Path) -> list[Path]:
    """Paths a test file names (relative to it; `bundled` as in the config), else the config's."""
    if given is None:
        return default
    return [bundled if c == BUNDLED else path.parent / c for c in given]


def _observations(catalog: Catalog, case: Case, doc: LocatedYaml, index: int) -> list[Observation]:
    """A test's observations as ingest stores them: ids normalised through the registry."""
    out = []
    for k, o in enumerate(case.observations):
        key, source = f"{index}:{k}", doc.where(["tests", index, "observations", k])
        digest = hashlib.sha256(key.encode()).hexdigest()
        attributes: dict[str, object] = {"vendor_reported": True} if o.vendor_reported else {}
        if o.measured_by is not None:
            attributes["measured_by"] = o.measured_by
        raw = Observation(o.model, o.benchmark, o.metric, o.value, o.observed_at or o.at, key,
                          source, digest, o.stderr, o.n, attributes)  # fmt: skip
        out.append(catalog.registry.normalise(raw))
    return out


def check(
    doc: LocatedYaml, suite: Suite, catalog: Catalog, inputs: Sequence[Sequence[Observation]]
) -> list[Problem]:
    """What only the catalog can tell: unknown thresholds, subjects a frontier threshold
    cannot have, observations no threshold reads, and duplicate test names."""
    problems: list[Problem] = []
    ids = {t.id: t for t in catalog.thresholds}
    read = {p for t in catalog.thresholds for p in t.pairs}
    names: dict[str, str] = {}

    def subject(loc: list[str | int], tid: str, who: str) -> None:
        if tid not in ids:
            close = difflib.get_close_matches(tid, list(ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(Problem(doc.where(loc), f"unknown threshold {tid!r}{hint}"))
        elif ids[tid].is_frontier and who != ids[tid].scope.value:
            why = f"subject {who!r}: this threshold's only subject is {ids[tid].scope.value!r}"
            hint = " (name the best model with `model:` in a verdict)"
            problems.append(Problem(doc.where(loc), why + hint, tid))

    for i, case in enumerate(suite.tests):
        where = doc.where(["tests", i, "name"])
        if case.name in names:
            problems.append(Problem(where, f"duplicate test name, first at {names[case.name]}"))
        names.setdefault(case.name, where)
        for k, o in enumerate(inputs[i]):
            if (o.benchmark, o.metric) not in read:
                raw = case.observations[k]
                why = f"no threshold reads benchmark {raw.benchmark!r} metric {raw.metric!r}"
                problems.append(Problem(doc.where(["tests", i, "observations", k]), why))
        for j, step in enumerate(case.expect):
            for kind, table in (("verdicts", step.verdicts), ("states", step.states)):
                for tid, subjects in table.items():
                    for who in subjects:
                        subject(["tests", i, "expect", j, kind, tid, who], tid, who)
        for n, trig in enumerate(case.triggers or []):
            subject(["tests", i, "triggers", n], trig.threshold, trig.subject)
    return sorted(problems, key=lambda p: int(p.where.rsplit(":", 1)[1]))


def run_case(
    catalog: Catalog, case: Case, inputs: Sequence[Observation], doc: LocatedYaml, index: int
) -> list[str]:
    """Run one test on a fresh SQLite file; returns its failures (empty: it passed)."""
    arriving: dict[datetime, list[Observation]] = defaultdict(list)
    for spec, o in zip(case.observations, inputs, strict=True):
        arriving[spec.at].append(o)
    steps = {step.at: (j, step) for j, step in enumerate(case.expect)}
    assessed: dict[datetime, list[AssessmentSpec]] = defaultdict(list)
    for a in case.assessments:
        assessed[a.at].append(a)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="warden-thresholdtest-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'warden.db'}")
        try:
            store.upgrade()
            for at in sorted(set(arriving) | set(steps) | set(assessed)):
                items = arriving.get(at, [])
                if items:
                    with store.write() as conn:
                        obs_rows.insert_observations(conn, FEED, items, at)
                for a in assessed.get(at, []):
                    record(store, catalog.registry, _fixed(at), a.model, a.by, at, a.compute)
                # After an ingest the daemon evaluates what it touched; periodically, everything.
                touched = catalog.touching({(o.benchmark, o.metric) for o in items})
                result = run_cycle(store, catalog, [], _fixed(at), None if at in steps else touched)
                if at in steps:
                    j, step = steps[at]
                    with store.read() as conn:
                        states = alert_rows.load_states(conn, [t.id for t in catalog.thresholds])
                    loc: list[str | int] = ["tests", index, "expect", j]
                    failures += _compare_step(catalog, step, result.evaluations, states, doc, loc)
            with store.read() as conn:
                entries = list(alert_rows.entries(conn))
        finally:
            store.dispose()
    want = [(t.threshold, t.subject, t.from_.value, t.to.value, t.at) for t in case.triggers or []]
    got = [
        (e.threshold, e.subject, e.from_state, e.to_state, e.at)
        for e in entries
        if e.kind == TRANSITION
    ]
    for n in range(max(len(want), len(got)) if case.triggers is not None else 0):
        w, g = want[n] if n < len(want) else None, got[n] if n < len(got) else None
        if w is None or g is None or w[:4] != g[:4] or w[4] not in (None, g[4]):
            at_n: list[str | int] = ["tests", index, "triggers", *([n] if w is not None else [])]
            shown = f"expected {_show_trigger(w)}, got {_show_trigger(g)}"
            failures.append(f"{doc.where(at_n)}: trigger {n + 1}: {shown}")
    return failures


def _fixed(at: datetime) -> Clock:
    return lambda: at


def _compare_step(
    catalog: Catalog,
    step: Step,
    evaluations: Sequence[Evaluation],
    states: dict[tuple[str, str], State],
    doc: LocatedYaml,
    loc: list[str | int],
) -> list[str]:
    out: list[str] = []
    got = {(e.threshold, e.subject): e for e in evaluations}

    def head(kind: str, tid: str, subject: str) -> str:
        where = doc.where([*loc, kind, tid, subject])
        return f"{where}: at {show_time(step.at)}: {kind[:-1]} of {tid} for {subject}"

    for tid, verdicts in step.verdicts.items():
        for subject, want in verdicts.items():
            ev = got.get((tid, subject))
            if ev is None or not _verdict_matches(want, ev):
                shown = "no verdict (no evidence and no alert state for this subject)"
                if ev is not None:
                    reason = explain(catalog.by_id(tid), ev)
                    shown = _show(ev.verdict, ev.value, _model_of(ev), reason)
                wanted = _show(want.verdict, want.value, want.model, "")
                out.append(f"{head('verdicts', tid, subject)}: expected {wanted}, got {shown}")
    for tid, wanted_states in step.states.items():
        for subject, state in wanted_states.items():
            actual = states.get((tid, subject), State.INACTIVE)
            if actual is not state:
                shown = f"expected {state.value}, got {actual.value}"
                out.append(f"{head('states', tid, subject)}: {shown}")
    return out


def _verdict_matches(want: VerdictSpec, ev: Evaluation) -> bool:
    close = want.value is None or (
        ev.value is not None and math.isclose(want.value, ev.value, rel_tol=1e-9, abs_tol=1e-12)
    )
    return want.verdict is ev.verdict and close and want.model in (None, _model_of(ev))


def _model_of(ev: Evaluation) -> str | None:
    return ev.evidence[0].subject if ev.evidence else None


def _show(verdict: Verdict, value: float | None, model: str | None, reason: str) -> str:
    parts = [f"value {value:g}"] if value is not None else []
    parts += [f"model {model}"] if model is not None else []
    parts += [reason] if reason else []
    return verdict.value + (f" ({', '.join(parts)})" if parts else "")


TriggerRow = tuple[str, str, str, str, datetime | None]


def _show_trigger(t: TriggerRow | None) -> str:
    if t is None:
        return "none"
    when = f" at {show_time(t[4])}" if t[4] is not None else ""
    return f"{t[0]} {t[1]}: {t[2]} -> {t[3]}{when}"


def show_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render(results: Sequence[FileResult]) -> list[str]:
    """promtool-like report: per file, per test `ok`/`FAILED` with the differences, or `ERROR`
    with every problem of a file that could not run; then a summary line."""
    lines: list[str] = []
    for r in results:
        lines.append(str(r.path))
        lines += [f"  ERROR   {p}" for p in r.problems]
        for c in r.cases:
            lines.append(f"  {'ok' if c.passed else 'FAILED':<6}  {c.name}")
            lines += [f"            {f}" for f in c.failures]
    cases = [c for r in results for c in r.cases]
    failed = sum(not c.passed for c in cases)
    errors = sum(bool(r.problems) for r in results)
    summary = f"{_count(len(cases), 'test')} in {_count(len(results), 'file')}: "
    summary += f"{len(cases) - failed} passed, {failed} failed"
    summary += f"; {_count(errors, 'file')} in error" if errors else ""
    return [*lines, summary]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def exit_code(results: Sequence[FileResult]) -> int:
    """2 when a file could not run (bad input or catalog), 1 when a test failed, else 0."""
    if any(r.problems for r in results):
        return 2
    return 1 if any(not c.passed for r in results for c in r.cases) else 0
