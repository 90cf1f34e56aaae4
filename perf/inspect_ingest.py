"""Inspect log ingest: a real `.eval` log written by inspect-ai with its offline mockllm/model,
copied `logs` times with distinct eval ids, ingested by the `inspect_logs` connector through
`warden.ingest.feedrun.run_feed` into a fresh SQLite store; beside inspect-ai's own header-only read
and a bare zip + json read of the same files (perf/README.md, figure `ingest`)."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from harness import (
    best,
    emit,
    fresh_store,
    say,
    timed,
)

from connectors.archive import member_names, read_member
from connectors.inspect_logs import InspectLogs
from warden.core.clock import system_clock
from warden.ingest.connector import Cursor
from warden.ingest.feedrun import run_feed

try:  # teaches zipfile zstd (method 93), which inspect-ai writes; patches zipfile globally
    import zipfile_zstd  # type: ignore[import-untyped]  # noqa: F401

    ZSTD = True
except ImportError:
    ZSTD = False


def make_inspect_log(folder: Path) -> Path:
    """One real .eval log, written by inspect-ai with its offline mockllm/model."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes, match
    from inspect_ai.solver import generate

    answers = {"What is 2+2?": "4", "Capital of France?": "Paris", "Colour of the sky?": "green"}

    def reply(input: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        out = ModelOutput.from_content(model="mockllm", content=answers.get(input[-1].text, "?"))
        out.usage = ModelUsage(input_tokens=3, output_tokens=1, total_tokens=4)  # no tiktoken
        return out

    samples = [Sample(id=f"q{i}", input=q, target=a) for i, (q, a) in enumerate(answers.items())]
    model = get_model("mockllm/model", custom_outputs=reply)
    task = Task(dataset=samples, solver=[generate()], scorer=[match(), includes()], model=model)
    with mock.patch.dict(os.environ, XDG_DATA_HOME=str(folder)):  # inspect's traces go there
        (log,) = inspect_eval(task, log_dir=str(folder), display="none", log_format="eval")
    assert log.status == "success", log.status
    (path,) = folder.glob("*.eval")
    return path


def copy_log(original: Path, folder: Path, n: int) -> list[Path]:
    """`n` distinct copies of `original`: eval_id rewritten in header.json."""
    with original.open("rb") as fp:
        infos = member_names(fp, str(original))
        members = {name: read_member(fp, i, 2**26, str(original)) for name, i in infos.items()}
    header = json.loads(members["header.json"])
    folder.mkdir()
    for i in range(n):
        header["eval"]["eval_id"] = f"perf{i:06d}"
        members["header.json"] = json.dumps(header).encode()
        with zipfile.ZipFile(folder / f"{i:06d}.eval", "w", 93 if ZSTD else 8) as z:
            for name, data in members.items():
                z.writestr(name, data)
    return sorted(folder.iterdir())


def bare_header(path: Path) -> Any:
    """The limit: open the zip, expand header.json, json.loads it."""
    if ZSTD:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("header.json"))
    with path.open("rb") as fp:
        return json.loads(read_member(fp, member_names(fp, "")["header.json"], 2**26, ""))


def figure(logs: int, repeats: int, tmp: Path) -> None:
    from inspect_ai.log import read_eval_log

    say("writing a real Inspect log with inspect-ai + mockllm/model, then copies of it")
    paths = copy_log(make_inspect_log(tmp / "original"), tmp / "logs", logs)
    assert len({bare_header(p)["eval"]["eval_id"] for p in paths}) == len(paths)  # warms cache
    stored: list[int] = []

    def ingest(k: int) -> float:
        store, connector = fresh_store(tmp / f"ingest-{k}.db"), InspectLogs({"path": tmp / "logs"})
        seconds, result = timed(lambda: run_feed(store, "f", connector, Cursor(), system_clock))
        store.dispose()
        assert not result.rejected and result.error is None, result
        stored.append(result.ingested)
        return seconds

    def read_all(read: Callable[[Path], object]) -> float:
        return best(repeats, lambda _: timed(lambda: [read(p) for p in paths])[0])

    say(f"reading {len(paths)} logs three ways, best of {repeats}")
    inspect = len(paths) / read_all(lambda p: read_eval_log(str(p), header_only=True))
    bare = len(paths) / read_all(bare_header)
    rate = len(paths) / best(repeats, ingest)
    emit(
        "inspect_ingest_logs_per_second", rate, "logs/s",
        ">= 5x inspect_header_only and >= 25% of bare_zip_json",
        rate >= 5 * inspect and rate >= 0.25 * bare,
        baseline={"inspect_header_only": round(inspect, 1), "bare_zip_json": round(bare, 1)},
        ratio_to_inspect_header_only=round(rate / inspect, 2),
        ratio_to_bare_zip_json=round(rate / bare, 3),
        logs=len(paths), observations=stored[-1],
        copies_compression="zstd (method 93, as inspect-ai writes)" if ZSTD else "deflate",
        bare_reader="zipfile + zipfile_zstd" if ZSTD else "connectors.archive.read_member",
    )  # fmt: skip
