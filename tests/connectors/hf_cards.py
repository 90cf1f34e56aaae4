"""The model cards and helpers the hf_model_index tests share (test_hf_model_index.py,
test_hf_model_index_sources.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.hf_model_index import HfModelIndex, parse_card
from warden.core.errors import ParseError
from warden.core.model import Observation, Payload, Rejection
from warden.ingest.connector import Cursor, sha256

DATA = Path(__file__).parent / "data" / "hf_model_index"
ACME = DATA / "acme__model-1__README.md"
MODEL_2 = DATA / "model-2" / "README.md"
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
KODIAK = "hf-model-index/kodiakllc_kdk-mlx__Qwen2.5-7B-Instruct-Uncensored-4bit__README.md"
BEAGLE = "hf-model-index/leliuga_cohere-configurations__NeuralBeagle14-7B__README.md"


def parse_file(path: Path) -> list[Observation | Rejection]:
    (item,) = list(HfModelIndex({"source": str(path)}).fetch(Cursor()))
    assert isinstance(item, Payload), item
    return parse_card(item)


def by_key(items: list[Observation | Rejection]) -> dict[tuple[str, str, str], Observation]:
    found = {(o.subject, o.benchmark, o.metric): o for o in items if isinstance(o, Observation)}
    assert len(found) == len([o for o in items if isinstance(o, Observation)])
    return found


def rejections(items: list[Observation | Rejection]) -> list[Rejection]:
    return [r for r in items if isinstance(r, Rejection)]


def card(front: Any, body: str = "\n# A model\n", source: str = "org__model__README.md") -> Payload:
    """A card whose front matter is `front` (a document to dump, or YAML text)."""
    text = front if isinstance(front, str) else yaml.safe_dump(front, sort_keys=False)
    content = f"---\n{text}---\n{body}".encode()
    return Payload(source, content, sha256(content), fetched_at=WHEN)


def result(kind: str = "cais/mmlu", value: Any = 0.5, metric: str = "acc", **dataset: Any) -> Any:
    return {
        "task": {"type": "text-generation"},
        "dataset": {"name": kind, "type": kind, **dataset},
        "metrics": [{"type": metric, "value": value}],
    }


def index(*results: Any, name: Any = "org/model") -> dict[str, Any]:
    return {"model-index": [{"name": name, "results": list(results)}]}


def error(p: Payload) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_card(p)
    return caught.value


def one(front: Any) -> Observation:
    items = parse_card(card(front))
    assert not rejections(items), rejections(items)
    (o,) = items
    assert isinstance(o, Observation)
    return o


def raw(text: str | bytes) -> Payload:
    content = text if isinstance(text, bytes) else text.encode()
    return Payload("card.md", content, sha256(content), fetched_at=WHEN)
