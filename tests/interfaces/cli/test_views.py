"""How the CLI shows tables: fitted to a terminal (ids whole, free text wrapped, states
coloured unless NO_COLOR), plain and unlimited when piped, times to the second; and progress
only on a terminal. Real commands through click's runner on a real SQLite store."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from warden.interfaces.cli import progress, tables
from warden.interfaces.cli.main import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SECOND = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"  # a table's time: UTC, to the second
THRESHOLD = "test.bench.acc.high"
MODEL = "acme/model-2026-11"
CATALOG = f"""
benchmarks: [{{id: bench, title: Bench}}]
thresholds:
  - id: {THRESHOLD}
    title: Bench mostly right
    domain: test
    level: high
    sources: [{{title: F, url: "https://example.org/"}}]
    when: {{benchmark: bench, metric: acc, op: ">=", value: 0.5}}
    then: {{severity: critical, mitigations: [Pause.]}}
"""
GOOD = [
    {"model": MODEL, "benchmark": "bench", "metric": "acc", "value": 0.7,
     "observed_at": "2026-02-01T10:20:30.123456Z"},
]  # fmt: skip
# Where a reject's source is a long path: the free text of `warden rejects`.
DEEP = "some/deeply/nested/folder/of/results/from/the/nightly/evaluation/run"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a firing alert, a feed, and two rejects with long sources and messages."""
    root = tmp_path_factory.mktemp("views")
    data = root / "data"
    (data / DEEP).mkdir(parents=True)
    (data / "good.json").write_text(json.dumps(GOOD))
    (data / DEEP / "cut-short-while-copying-2026-11-28T09-00-00.json").write_text('[{"model": ')
    (data / DEEP / "not-a-list-of-observations-at-all.json").write_text('{"a": 1}')
    (root / "test.yaml").write_text(CATALOG)
    cfg = root / "warden.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{root / 'w.db'}\n"
        f"catalog: [bundled, {root / 'test.yaml'}]\n"
        f"feeds: [{{id: lab, connector: observations_json, options: {{source: {data}}}}}]\n"
    )
    r = warden("backfill", "lab", "--config", cfg)
    assert r.exit_code == 1 and "1 new" in r.stdout and "2 rejected" in r.stdout, r.output
    return cfg


def warden(*args: str | Path, color: bool = False) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, color=color)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """stdout taken for a terminal 80 columns wide that shows colour (unless NO_COLOR)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(tables, "terminal", lambda: tables.console(force_terminal=True, width=80))
    yield


def widest(text: str) -> int:
    return max(len(ANSI.sub("", line)) for line in text.splitlines())


# -- piped: plain, as before ------------------------------------------------------------------


def test_piped_tables_are_plain_one_line_per_record_and_unlimited(config: Path) -> None:
    out = warden("status", "--config", config).stdout
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["threshold", "subject", "state", "since"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    (row,) = [line for line in lines if line.startswith(THRESHOLD)]
    assert re.fullmatch(rf"{re.escape(THRESHOLD)}\s+{re.escape(MODEL)}\s+firing\s+{SECOND}", row)
    # No width limit: the list of thresholds without evidence stays one line (grep finds it).
    (unknown,) = [line for line in lines if line.startswith("no evidence yet (unknown): ")]
    assert len(unknown) > 200 and "cyber.cybench.unguided.high" in unknown

    rejects = warden("rejects", "--config", config).stdout.splitlines()
    assert "\x1b" not in "".join(rejects) and rejects[0].split()[:3] == ["id", "feed", "source"]
    rows = [line for line in rejects if re.match(r"\d+ +lab ", line)]
    assert len(rows) == 2 and all(DEEP in row for row in rows)  # each reject, whole, on a line


def test_table_times_are_to_the_second_and_json_keeps_iso(config: Path) -> None:
    log = warden("log", "--config", config).stdout
    times = re.findall(r"\d{4}-\d\d-\d\dT[\d:.+]+Z?", log)
    assert times and all(re.fullmatch(SECOND, t) for t in times), times
    feeds = warden("feeds", "--config", config).stdout
    assert re.search(rf"\blab\b.*\bok\b\s+{SECOND}\s", feeds), feeds
    assert "+00:00" not in feeds

    status = json.loads(warden("status", "--json", "--config", config).stdout)
    (state,) = [s for s in status["states"] if s["threshold"] == THRESHOLD]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", state["since"])
    (entry, *_) = [
        json.loads(line) for line in warden("log", "--json", "--config", config).stdout.splitlines()
    ]
    assert entry["at"].endswith("+00:00")
    assert warden("log", "--csv", "--config", config).stdout.count("+00:00") >= 2


def test_when_formats_any_offset_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    at = datetime(2026, 11, 28, 16, 15, 10, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert tables.when(at) == "2026-11-28T14:15:10Z"
    assert tables.when(None) is None


# -- on a terminal: fitted, coloured ----------------------------------------------------------


def test_status_fits_80_columns_with_ids_whole_and_states_coloured(
    config: Path, terminal: None
) -> None:
    out = warden("status", "--config", config, color=True).stdout
    assert widest(out) <= 80, out
    plain = ANSI.sub("", out)
    (row,) = [line for line in plain.splitlines() if line.startswith(THRESHOLD)]
    assert row.split() == [THRESHOLD, MODEL, "firing", row.split()[3]]
    assert re.fullmatch(SECOND, row.split()[3])
    assert "\x1b[1;31mfiring\x1b[0m" in out  # firing: bold red
    # The long list wraps at spaces, at the width, and loses no id.
    assert "cyber.cybench.unguided.high," in plain.split()
    # Lines end in no styled padding: nothing after the last character but the reset.
    assert not any(line.endswith(" ") for line in plain.splitlines())


def test_rejects_fit_80_columns_wrapping_sources_and_messages(config: Path, terminal: None) -> None:
    out = warden("rejects", "--config", config, color=True).stdout
    assert widest(out) <= 80, out
    lines = ANSI.sub("", out).splitlines()
    head = lines[0]
    assert head.split() == ["id", "feed", "source", "record", "field", "reason", "message"]
    source, record, reason, message = (
        head.index(h) for h in ("source", "record", "reason", "message")
    )
    rows: list[list[str]] = []
    for line in lines[2:]:
        if not line.strip() or line.endswith("open rejects"):
            continue
        if re.match(r" *\d+ +lab ", line):  # the id and the feed id, whole, start each reject
            rows.append([])
        rows[-1].append(line)
    wanted = {(r["source"], r["reason"], r["message"]) for r in _rejects(config)}
    shown = {
        (
            "".join(line[source:record].strip() for line in row),  # split, never cut
            row[0][reason:message].strip(),  # whole
            " ".join(line[message:].strip() for line in row if line[message:].strip()),
        )
        for row in rows
    }
    assert shown == wanted and len(shown) == 2


def _rejects(config: Path) -> list[dict[str, str]]:
    found: list[dict[str, str]] = json.loads(warden("rejects", "--json", "--config", config).stdout)
    return found


def test_no_color_keeps_the_layout_and_drops_every_escape_code(
    config: Path, terminal: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    coloured = warden("status", "--config", config, color=True).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    plain = warden("status", "--config", config, color=True).stdout
    assert "\x1b" in coloured and "\x1b" not in plain
    assert ANSI.sub("", coloured) == plain
    monkeypatch.setenv("NO_COLOR", "")  # empty: not set, says no-color.org
    assert "\x1b" in warden("status", "--config", config, color=True).stdout


def test_forced_terminal_colours_each_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.delenv("NO_COLOR", raising=False)
    states = ("firing", "pending", "nodata", "error", "resolved", "inactive")
    out = tables.console(force_terminal=True, width=80, file=io.StringIO(), color_system="standard")
    drawn = tables.table(
        ["threshold", "subject", "state"],
        [["t", "m", state] for state in states],
        styles={"state": tables.state_style},
        out=out,
    )
    pattern = rf"(\x1b\[[0-9;]*m)({'|'.join(states)})\x1b\[0m"
    looks = dict(re.findall(pattern, drawn))  # escape code -> state
    assert len(looks) == len(states), drawn  # each state its own look
    assert "\x1b[1;31mfiring" in drawn and "\x1b[32mresolved" in drawn
    assert tables.state_style("inactive -> firing") == tables.state_style("firing") == "bold red"
    assert tables.state_style("failing (timeout), silent") == "red"
    assert tables.state_style("silence added by ok") is None


def test_too_wide_ids_are_folded_never_cut() -> None:
    """Only when the naming columns alone are wider than the terminal are they split: over
    lines, at dots and slashes, every character kept."""
    import io

    long_id = "ai_rnd_autonomy.swe_bench_verified.independent.high"
    subject = "anthropic/claude-opus-4-20250514"
    out = tables.console(force_terminal=True, width=80, file=io.StringIO(), color_system=None)
    drawn = tables.table(
        ["threshold", "subject", "state", "since"],
        [[long_id, subject, "firing", "2026-11-28T14:15:10Z"]],
        out=out,
    )
    lines = drawn.splitlines()
    assert widest(drawn) <= 80
    assert "2026-11-28T14:15:10Z" in drawn and "firing" in drawn  # short values stay whole
    cut = lines[2].index(subject[:10])
    first_column = "".join(line[:cut].strip() for line in lines[2:])
    assert first_column == long_id
    assert all(line[:cut].strip().endswith((".", "_", "/")) for line in lines[2:-1])


def test_layout_gives_way_with_free_text_first() -> None:
    headers = ["id", "state", "message"]
    cells = [["x" * 30, "firing", "word " * 40]]
    widths, gap = tables.layout(headers, cells, [False, False, True], 80)
    assert widths[:2] == [30, 6] and sum(widths) + gap * 2 <= 80
    # Still too narrow: free text goes down to its last floor before an id is folded.
    widths, gap = tables.layout(headers, cells, [False, False, True], 47)
    assert widths == [30, 6, tables.MIN_FREE_LAST + 1] and gap == 1
    widths, _ = tables.layout(headers, cells, [False, False, True], 40)
    assert widths[0] < 30 and widths[1] == 6  # folded now; the state is kept whole


def test_wrap_cell_breaks_at_spaces_then_separators() -> None:
    assert tables.wrap_cell("no evidence in scope", 11, words=True) == "no evidence\nin scope"
    assert tables.wrap_cell("/tmp/a/long/path.json", 10, words=True) == "/tmp/a/\nlong/path.\njson"
    assert tables.wrap_cell("abcdefghij", 4, words=False) == "abcd\nefgh\nij"


# -- progress ---------------------------------------------------------------------------------


def test_progress_is_silent_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    cfg = _feed(tmp_path)
    r = warden("backfill", "lab", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert r.stdout == (
        "lab: 1 new, 0 already known, 0 rejected, 0 skipped, 0 not finished; 0 triggers\n"
    )
    assert "payloads" not in r.stderr and "\x1b" not in r.stderr


def test_progress_counts_payloads_on_a_terminal_and_leaves_stdout_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    cfg = _feed(tmp_path)
    r = warden("backfill", "lab", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert r.stdout == (
        "lab: 1 new, 0 already known, 0 rejected, 0 skipped, 0 not finished; 0 triggers\n"
    )
    shown = ANSI.sub("", r.stderr)
    assert "backfilling lab" in shown and "1 payloads, 1 observations, 0 rejected" in shown


def _feed(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.json").write_text(json.dumps(GOOD))
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        f"feeds: [{{id: lab, connector: observations_json, options: {{source: {data}}}}}]\n"
    )
    return cfg


def test_help_never_imports_rich() -> None:
    """rich is for terminals: `warden --help` (and its start time) does without it."""
    import subprocess
    import sys

    code = (
        "import sys, warden.interfaces.cli.main, warden.interfaces.cli.progress; "
        "print('rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout


PROXY = "proxy chosen by warden's catalog"


def test_thresholds_list_says_proxy_or_framework_number_with_the_citation(config: Path) -> None:
    rows = warden("thresholds", "list", "--config", config).stdout.splitlines()
    assert rows[0].split()[4:] == ["severity", "basis", "sources"]
    metr = next(r for r in rows if r.startswith("autonomy.metr_time_horizon.p50.high "))
    assert f" warning   {PROXY} " in re.sub(r" {2,}", "   ", metr)
    assert "METR, Measuring AI Ability to Complete Long Tasks (2025) <https://metr.org/" in metr
    eu = next(r for r in rows if r.startswith("compute.training_compute.eu_systemic_risk.high "))
    assert " critical " in eu and " framework number " in eu
    assert "<https://eur-lex.europa.eu/eli/reg/2024/1689/oj>" in eu
    assert re.fullmatch(
        r"\d+ thresholds in \d+ catalog files; \d+ rest on a proxy chosen by warden's catalog "
        r"\(`--json` gives each number's note\)",
        rows[-1],
    )
    data = json.loads(warden("thresholds", "list", "--json", "--config", config).stdout)
    by_id = {t["id"]: t for t in data["thresholds"]}
    p80 = by_id["ai_rnd_autonomy.metr_time_horizon.p80.checkpoint"]["basis"]
    assert p80["kind"] == "proxy" and p80["label"] == PROXY
    assert p80["numbers"]["when.value"]["kind"] == "proxy"
    assert "RSP v2.0 checkpoint is stated in words" in p80["numbers"]["when.value"]["note"]
    assert p80["sources"][0]["url"].startswith("https://assets.anthropic.com/")
    assert by_id["compute.training_compute.eu_systemic_risk.high"]["basis"]["kind"] == "framework"
    assert by_id[THRESHOLD]["basis"]["kind"] == "unstated"


def test_cli_values_are_in_their_unit_and_rounded() -> None:
    from thresholds import bundled_catalog, bundled_registry
    from warden.catalog.thresholds import load_catalog
    from warden.interfaces.cli.views import shown

    catalog = load_catalog([bundled_catalog()], [bundled_registry()])
    gpqa = catalog.by_id("general.gpqa_diamond.beyond_experts.early_warning")
    assert shown(gpqa, 0.8363999999999999) == "83.64%"
    assert shown(catalog.by_id("autonomy.metr_time_horizon.p50.high"), 480) == "480 min"
    eu = catalog.by_id("compute.training_compute.eu_systemic_risk.high")
    assert shown(eu, 2.5e24) == "2.5e24 FLOP" and shown(eu, None) == ""
    assert shown(catalog.by_id("general.reassessment.rsp.six_months"), 200.5) == "200.5 days"


def test_a_silence_ends_at_a_time_to_the_second(config: Path) -> None:
    r = warden(
        "silence", "add", "--match", f"threshold={THRESHOLD}", "--for", "2h",
        "--by", "alice", "--comment", "maintenance", "--config", config,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert re.search(rf": until {SECOND}$", r.stdout.strip()), r.stdout
    warden("silence", "expire", r.stdout.split()[1], "--by", "alice", "--config", config)
