"""A threshold's full definition as text, and back: what the store keeps under the threshold's
version hash so that a trigger can be replayed months later under the rule that fired it
(warden/triggerlog/replay.py).

The text is the very JSON the version hashes (`Threshold.version`: the canonical form, with
shorthands rewritten and defaults left out), so SHA-256(text) is the version: a stored
definition proves itself. Rebuilding validates it again, but from the canonical form: a ratio
to a human baseline is already a value, so the registry is not needed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from warden.catalog.conditions import When
from warden.catalog.provenance import Provenance
from warden.catalog.thresholds import Threshold
from warden.core.errors import WardenError

_WHEN: TypeAdapter[Any] = TypeAdapter(When)


class DefinitionError(WardenError):
    """A stored definition that does not hash to its version or no longer validates."""

    def __init__(self, version: str, why: str) -> None:
        self.version = version
        self.why = why
        super().__init__(f"threshold definition {version[:12]}: {why}")


def definition(threshold: Threshold) -> str:
    """The text whose SHA-256 is `threshold.version`."""
    content = threshold.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return json.dumps(content, sort_keys=True)


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rebuild(version: str, text: str) -> Threshold:
    """The threshold stored as `text` under `version`. DefinitionError when the text does not
    hash to the version (it was edited), or when this code cannot read it any more."""
    if version_of(text) != version:
        raise DefinitionError(version, "the stored text does not hash to its version (edited?)")
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise DefinitionError(version, "the stored text is not a JSON object")
        provenance = data.pop("provenance", {})
        # `when` validated alone is taken as the canonical form it is: the threshold's own
        # validators rewrite only shorthands written as mappings.
        data["when"] = _WHEN.validate_python(data.get("when"))
        threshold = Threshold.model_validate(data)
        threshold = threshold.model_copy(
            update={"provenance": {k: Provenance.model_validate(v) for k, v in provenance.items()}}
        )
    except (ValueError, ValidationError, TypeError, AttributeError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise DefinitionError(version, f"this code cannot read it: {first}") from exc
    if threshold.version != version:
        raise DefinitionError(
            version, f"this code reads it as version {threshold.version[:12]} (its rules changed)"
        )
    return threshold


def stored(thresholds: Iterable[Threshold]) -> list[tuple[str, str, str]]:
    """(version, id, definition text) of each threshold: the rows the store keeps."""
    return [(t.version, t.id, definition(t)) for t in thresholds]
