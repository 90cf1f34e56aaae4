"""Which connector reads a file, judged by its name and shape: for the hint when the connector
that was chosen refuses it ("this looks like lm-eval results: `--connector lm_eval` reads it").

A guess, never a decision: nothing is read or stored by it. Pure: a name and the bytes in.
"""

from __future__ import annotations

import json
import re
from typing import Any

# (connector, what it reads), by the entry-point names of the built-in connectors.
INSPECT = ("inspect_logs", "an Inspect AI log")
LM_EVAL = ("lm_eval", "lm-eval results")
OBSERVATIONS = ("observations_json", "a batch of warden's own observations")
HELM = ("helm", "a HELM run file")
SWEBENCH = ("swebench", "SWE-bench results")
EPOCH_BENCHMARKS = ("epoch_benchmarks", "an Epoch AI benchmark table")
EPOCH_MODELS = ("epoch_models", "an Epoch AI model table")
METR = ("metr_horizons", "METR time horizons")
HF = ("hf_model_index", "a Hugging Face model card with a model-index")
HELM_FILES = frozenset(
    {"stats.json", "run_spec.json", "per_instance_stats.json", "scenario_state.json"}
)
LM_EVAL_KEYS = frozenset({"config", "configs", "versions", "n-shot", "n-samples", "group_subtasks"})
JSON_LIMIT = 64 * 2**20  # larger documents are judged by their name and first bytes only


def sniff(name: str, content: bytes) -> tuple[str, str] | None:
    """(connector, what the file looks like) for a file named `name` (a path, a URL or an
    archive member), or None when its shape is none warden knows."""
    base = re.split(r"[/\\!]", name)[-1].lower()
    if content[:2] == b"PK" and base.endswith(".eval"):
        return INSPECT
    if base in HELM_FILES:
        return HELM
    text = content[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    head = text.lstrip()
    if head.startswith(("{", "[")):
        return _json(base, content)
    if head.startswith("---") and "model-index:" in text:
        return HF
    first = head.splitlines()[0] if head else ""
    if base.endswith(".csv") or "," in first:
        columns = {c.strip().strip('"') for c in first.split(",")}
        if "Model version" in columns:
            return EPOCH_BENCHMARKS
        if "Model" in columns and "Training compute (FLOP)" in columns:
            return EPOCH_MODELS
    if re.search(r"^benchmark_name:", text, re.MULTILINE) and "results:" in text:
        return METR
    return None


def _json(base: str, content: bytes) -> tuple[str, str] | None:
    if len(content) > JSON_LIMIT:
        return None
    try:
        doc: Any = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, list):
        items = [x for x in doc[:20] if isinstance(x, dict)]
        if items and all({"model", "benchmark", "metric", "value"} <= set(x) for x in items):
            return OBSERVATIONS
        return None
    if not isinstance(doc, dict):
        return None
    keys = set(doc)
    if {"eval", "status"} <= keys:
        return INSPECT
    if "results" in keys and keys & LM_EVAL_KEYS:
        return LM_EVAL
    if "leaderboards" in keys or "resolved_ids" in keys or "completed_ids" in keys:
        return SWEBENCH
    return None


def hint(name: str, content: bytes, chosen: str) -> str:
    """ " (it looks like lm-eval results: connector 'lm_eval' reads it)", or "" when the file
    looks like what `chosen` reads, or like nothing known."""
    found = sniff(name, content)
    if found is None or found[0] == chosen:
        return ""
    connector, what = found
    return f" (it looks like {what}: connector {connector!r} reads it)"
