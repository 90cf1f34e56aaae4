"""lm-evaluation-harness results documents for the lm_eval connector tests (test_lm_eval.py,
test_lm_eval_sources.py): a current results file with groups and filters, a legacy v0.3 one,
and helpers that parse them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.lm_eval import parse_results
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import sha256

DATE = 1767225600.25  # 2026-01-01T00:00:00.25Z
WHEN = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
MTIME = datetime(2026, 2, 2, 12, tzinfo=UTC)
LM_EVAL = Path("lm-eval")


def suite_row() -> dict[str, Any]:
    """The group row: the same numbers in `results` and in `groups` (no sample_count, as
    before 0.4.13)."""
    return {
        "alias": "toy_suite",
        "acc,none": 0.75,
        "acc_stderr,none": 0.07,
        "exact_match,strict-match": 0.25,
        "exact_match_stderr,strict-match": "N/A",
    }


def results_doc() -> dict[str, Any]:
    """A 0.4.9-style results file: a group of two tasks, a generate task with two filters, a
    perplexity task, "N/A" stderrs, string model args."""
    return {
        "results": {
            "toy_suite": suite_row(),
            "toy_mc": {
                "alias": " - toy_mc",
                "acc,none": 0.75,
                "acc_stderr,none": 0.07,
                "acc_norm,none": 0.5,
                "acc_norm_stderr,none": "N/A",
            },
            "toy_gen": {
                "alias": " - toy_gen",
                "exact_match,strict-match": 0.25,
                "exact_match_stderr,strict-match": "N/A",
                "exact_match,flexible-extract": 0.5,
                "exact_match_stderr,flexible-extract": 0.11,
            },
            "wikitext": {
                "alias": "wikitext",
                "word_perplexity,none": 12.5,
                "word_perplexity_stderr,none": "N/A",
                "bits_per_byte,none": 0.61,
                "bits_per_byte_stderr,none": "N/A",
            },
        },
        "groups": {"toy_suite": suite_row()},
        "group_subtasks": {"toy_suite": ["toy_mc", "toy_gen"], "wikitext": []},
        "configs": {"toy_mc": {"task": "toy_mc", "num_fewshot": 5}},
        "versions": {"toy_suite": "1.0", "toy_mc": 1.0, "toy_gen": 2.0, "wikitext": 2},
        "n-shot": {"toy_suite": 0, "toy_mc": 5, "toy_gen": 5, "wikitext": 0},
        "higher_is_better": {
            "toy_mc": {"acc": True, "acc_norm": True},
            "wikitext": {"word_perplexity": False, "bits_per_byte": False},
        },
        "n-samples": {
            "toy_mc": {"original": 40, "effective": 40},
            "toy_gen": {"original": 20, "effective": 20},
            "wikitext": {"original": 62, "effective": 62},
        },
        "config": {
            "model": "hf",
            "model_args": "pretrained=acme/toy-7b,dtype=auto,trust_remote_code=False",
            "batch_size": "auto",
            "limit": None,
            "bootstrap_iters": 100000,
        },
        "git_hash": "1f84a09f",
        "date": DATE,
        "lm_eval_version": "0.4.9.2",
        "model_source": "hf",
        "model_name": "acme/toy-7b",
        "model_name_sanitized": "acme__toy-7b",
        "start_time": 1156433.566745526,  # perf_counter values, not wall-clock times
        "end_time": 1157844.907744182,
        "total_evaluation_time_seconds": "1411.34",
    }


def legacy_doc() -> dict[str, Any]:
    """A v0.3 results file: no filter in the keys, no date, no n-samples."""
    return {
        "results": {
            "agieval_sat_math": {
                "acc": 0.33,
                "acc_stderr": 0.03,
                "acc_norm": 0.32,
                "acc_norm_stderr": 0.031,
            },
            "agieval_lsat_ar": {"acc": 0.18, "acc_stderr": 0.025},
        },
        "versions": {"agieval_sat_math": 0, "agieval_lsat_ar": 0},
        "config": {
            "model": "hf-causal",
            "model_args": "pretrained=acme/legacy-7b,trust_remote_code=False",
            "num_fewshot": 0,
            "no_cache": False,
            "limit": None,
        },
    }


def payload(doc: Any, source: str = "results_2026-01-01T01-00-00.5.json") -> Payload:
    content = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Payload(source, content, sha256(content), fetched_at=MTIME)


def parse(doc: Any) -> list[Observation]:
    items = parse_results(payload(doc))
    assert all(isinstance(o, Observation) for o in items), items
    return [o for o in items if isinstance(o, Observation)]


def by_id(items: list[Observation]) -> dict[tuple[str, str], Observation]:
    out = {(o.benchmark, o.metric): o for o in items}
    assert len(out) == len(items), "a (benchmark, metric) pair repeats"
    return out


def error(doc: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_results(payload(doc))
    return caught.value


def split(doc: Any) -> tuple[list[Observation], list[Rejection]]:
    items = parse_results(payload(doc))
    return (
        [o for o in items if isinstance(o, Observation)],
        [r for r in items if isinstance(r, Rejection)],
    )
