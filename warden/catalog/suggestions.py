"""Aliases proposed for model ids the registry does not know (`warden registry suggest`).

An unmapped id is matched by its spelling, normalised (case, separators, provider prefix, a date
stamp, Epoch's effort suffix and METR's scaffold suffix set aside), and then checked against what
the feeds say of it: organisation, release date, parameters, open weights. A match that any of
them contradicts is no match. Spellings that differ in a word (`instruct`, `chat`, `it`,
`preview`, a size) never match: base and instruct models stay apart, as the sources keep them.
The proposals are a registry file for a person to review (`model_aliases:` for models the
registry has, `models:` for new ones); nothing is applied by itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from warden.catalog.registry import ModelSpec, Registry
from warden.core.suggest import nearest

# A date written in a name: 20241022, 2024-10-22.
_STAMP = re.compile(r"(?<!\d)(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")
# Epoch's reasoning-effort or thinking-budget suffix: a variant of the model, never in an alias.
_EFFORT = re.compile(r"_(?:x?high|medium|low|minimal|none|\d+k)$", re.IGNORECASE)
# METR's scaffold suffix and HF's `-hf`: other spellings of one model, kept in aliases.
_SUFFIX = re.compile(r"[_-](?:inspect|elicited|hf)$", re.IGNORECASE)
# Words that make another model of a family: a base model is not its instruct or chat model.
MARKERS = frozenset({"instruct", "chat", "it", "base", "thinking", "vision", "coder", "distill"})
_ORG_WORDS = {"ai", "inc", "research", "labs", "lab", "the", "of", "and", "university", "co"}
# A date stamp names one snapshot: its release is within days of it; sources date one release
# differently (an announcement, an API snapshot) by a few weeks.
STAMP_DAYS = 14
RELEASE_DAYS = 45
PARAMETER_RATIO = 1.25
_PREFIX = {
    "google deepmind": "google",
    "google": "google",
    "meta ai": "meta",
    "meta": "meta",
    "mistral ai": "mistral",
    "microsoft research": "microsoft",
    "microsoft": "microsoft",
    "moonshot": "moonshot",
}


@dataclass(frozen=True)
class Sighting:
    """One raw model id as one feed sent it, with what that feed says about the model."""

    id: str
    feed: str
    observations: int = 1
    organisation: str | None = None
    release_date: date | None = None
    parameters: float | None = None
    open_weights: bool | None = None
    ensemble: bool = False  # several models together (SWE-bench's `models`): no one model

    @classmethod
    def from_attributes(
        cls, raw: str, feed: str, observations: int, attributes: Mapping[str, Any]
    ) -> Sighting:
        """From an observation's attributes. SWE-bench's `organisation` is the submitter, not
        the model's developer (it lists them all in `organisations`), so it is not used."""
        org = attributes.get("organisation")
        submitter = "organisations" in attributes or "entry_name" in attributes
        if submitter or not isinstance(org, str) or not org.strip():
            org = None
        released = attributes.get("release_date")
        try:
            day = date.fromisoformat(released[:10]) if isinstance(released, str) else None
        except ValueError:
            day = None
        params = attributes.get("parameters")
        number = isinstance(params, int | float) and not isinstance(params, bool) and params > 0
        weights = attributes.get("open_weights")
        models = attributes.get("models")
        return cls(
            raw,
            feed,
            observations,
            org,
            day,
            float(params) if number else None,  # type: ignore[arg-type]
            weights if isinstance(weights, bool) else None,
            isinstance(models, list) and len(models) > 1,
        )


def _unprefixed(name: str) -> str:
    """`name` without a provider or repository prefix (`meta-llama/`, `openai/azure/`); a name
    with spaces has none (`RNN 1000/5 + RT09 LM`)."""
    return name if re.search(r"\s", name) else name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Spelling:
    key: tuple[str, ...]  # the words and numbers of the name, in order
    stamp: date | None  # a date written in the name
    base: str  # the name without effort or scaffold suffix


def spelling(name: str) -> Spelling:
    """`name` normalised: case, separators and a provider prefix (`meta-llama/`) do not count;
    a date stamp is set aside; Epoch's effort suffix (`_xhigh`, `_16K`) and METR's scaffold
    suffix (`_inspect`) are dropped (variants of one model)."""
    base = _EFFORT.sub("", name.strip())
    s = base
    while (cut := _SUFFIX.sub("", s)) != s:
        s = cut
    s = _unprefixed(s).casefold()
    stamp = None
    found = _STAMP.search(s)
    if found is not None:
        try:
            stamp = date(int(found[1]), int(found[2]), int(found[3]))
            s = s[: found.start()] + " " + s[found.end() :]
        except ValueError:
            stamp = None
    key = tuple(re.findall(r"[a-z]+|\d+", s))
    if key[:2] == ("meta", "llama"):
        key = key[1:]
    return Spelling(key, stamp, base)


def markers(name: str) -> frozenset[str]:
    """The words of `name` that tell models of one family apart (instruct, chat, ...)."""
    return MARKERS & frozenset(spelling(name).key)


@dataclass(frozen=True)
class Facts:
    """What is known of one model (or one spelling of it), to check a match."""

    stamp: date | None = None
    release_date: date | None = None
    organisation: str | None = None
    parameters: float | None = None
    open_weights: bool | None = None


def conflict(a: Facts, b: Facts) -> str | None:
    """Why `a` and `b` cannot be one model, or None."""
    if a.stamp and b.stamp and a.stamp != b.stamp:
        return f"snapshots {a.stamp} and {b.stamp}"
    for x, y in ((a, b), (b, a)):
        if x.stamp and y.release_date and abs((x.stamp - y.release_date).days) > STAMP_DAYS:
            return f"snapshot {x.stamp} but released {y.release_date}"
    if (
        a.release_date
        and b.release_date
        and abs((a.release_date - b.release_date).days) > RELEASE_DAYS
    ):
        return f"released {a.release_date} and {b.release_date}"
    if a.organisation and b.organisation and not _same_org(a.organisation, b.organisation):
        return f"organisations {a.organisation!r} and {b.organisation!r}"
    if (
        a.parameters
        and b.parameters
        and max(a.parameters, b.parameters) > PARAMETER_RATIO * min(a.parameters, b.parameters)
    ):
        return f"parameters {a.parameters:.3g} and {b.parameters:.3g}"
    if None not in (a.open_weights, b.open_weights) and a.open_weights != b.open_weights:
        return "open weights and not"
    return None


def _same_org(a: str, b: str) -> bool:
    """Whether two spellings of organisations share a name (`Google DeepMind`, `Google`)."""
    x, y = (set(re.findall(r"[a-z0-9]+", o.casefold())) for o in (a, b))
    return bool((x - _ORG_WORDS) & (y - _ORG_WORDS)) or x == y


def _facts(s: Sighting) -> Facts:
    return Facts(spelling(s.id).stamp, s.release_date, s.organisation, s.parameters, s.open_weights)


@dataclass
class Proposal:
    model: str  # the canonical id: one the registry has, or a new one
    aliases: list[str]
    sightings: list[Sighting]
    new: ModelSpec | None = None  # the entry to add, for a new model
    why: str = ""


@dataclass
class Suggestions:
    aliases: list[Proposal] = field(default_factory=list)  # for models the registry has
    new: list[Proposal] = field(default_factory=list)  # new models
    left: list[tuple[str, str]] = field(default_factory=list)  # (raw id, why no proposal)

    @property
    def mapped(self) -> int:
        """How many unmapped ids the proposals would map."""
        return len({s.id for p in (*self.aliases, *self.new) for s in p.sightings})


def suggest(registry: Registry, sightings: Iterable[Sighting]) -> Suggestions:
    """Proposals for the unmapped `sightings`: aliases of a registry model whose spelling and
    facts agree, else new models grouping the spellings that agree with each other."""
    known: dict[tuple[str, ...], list[tuple[ModelSpec, Facts]]] = {}
    for m in registry.models.values():
        base = Facts(None, m.release_date, m.organisation, None, m.open_weights)
        for name in (m.id, *m.aliases):
            sp = spelling(name)
            entry = (m, Facts(sp.stamp, *_tail(base)))
            bucket = known.setdefault(sp.key, [])
            if all(x[0].id != m.id or x[1].stamp != sp.stamp for x in bucket):
                bucket.append(entry)
    by_id: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_id.setdefault(s.id, []).append(s)
    out = Suggestions()
    existing: dict[str, Proposal] = {}
    groups: dict[tuple[str, ...], list[list[Sighting]]] = {}
    for raw, seen in sorted(by_id.items()):
        if any(s.ensemble for s in seen):
            out.left.append((raw, "an ensemble of models, not one model"))
            continue
        sp = spelling(raw)
        if not sp.key:
            out.left.append((raw, "no letters or digits to match"))
            continue
        facts = [_facts(s) for s in seen]
        own = next((conflict(a, b) for a in facts for b in facts if conflict(a, b)), None)
        if own:
            out.left.append((raw, f"its feeds disagree: {own}"))
            continue
        matches = {
            m.id: m
            for m, f in known.get(sp.key, [])
            if not any(conflict(f, x) for x in facts) and markers(m.id) == markers(raw)
        }
        if len(matches) > 1:
            out.left.append((raw, "spelled like " + " and ".join(sorted(matches))))
            continue
        if matches:
            model = next(iter(matches.values()))
            p = existing.setdefault(model.id, Proposal(model.id, [], [], why="spelling"))
            _add(p, sp.base, seen, model)
            continue
        for group in groups.setdefault(sp.key, []):
            if not any(conflict(_facts(a), b) for a in group for b in facts):
                group.extend(seen)
                break
        else:
            groups[sp.key].append(list(seen))
    for p in list(existing.values()):
        if not p.aliases:  # the base id is an alias already: the suffix is a variant
            del existing[p.model]
            for raw in sorted({x.id for x in p.sightings}):
                named = spelling(raw).base
                out.left.append(
                    (raw, f"{named!r} is an alias of {p.model!r}: the rest is a run's variant")
                )
    out.aliases = sorted(existing.values(), key=lambda p: p.model)
    taken = {_fold(n) for m in registry.models.values() for n in (m.id, *m.aliases)}
    for key_groups in groups.values():
        for group in key_groups:
            proposal = _new_model(group, taken)
            if proposal is None:
                ids = sorted({s.id for s in group})
                near = nearest(_fold(ids[0]), taken)
                hint = f"; nearest known: {', '.join(near)}" if near else ""
                for raw in ids:
                    out.left.append((raw, f"the feeds say nothing about the model{hint}"))
                continue
            taken |= {_fold(proposal.model), *(_fold(a) for a in proposal.aliases)}
            out.new.append(proposal)
    out.new.sort(key=lambda p: p.model)
    out.left.sort()
    return out


def _tail(f: Facts) -> tuple[date | None, str | None, float | None, bool | None]:
    return f.release_date, f.organisation, f.parameters, f.open_weights


def _add(p: Proposal, alias: str, seen: list[Sighting], model: ModelSpec | None) -> None:
    names = {_fold(a) for a in p.aliases}
    if model is not None:
        names |= {_fold(n) for n in (model.id, *model.aliases)}
    if _fold(alias) not in names:
        p.aliases.append(alias)
    p.sightings.extend(seen)


def _new_model(group: list[Sighting], taken: set[str]) -> Proposal | None:
    orgs = Counter(s.organisation for s in group if s.organisation)
    days = Counter(s.release_date for s in group if s.release_date)
    stamps = [d for d in (spelling(s.id).stamp for s in group) if d is not None]
    if not orgs and not days and len({s.id for s in group}) < 2:
        return None  # one spelling the feeds say nothing about (a local or a test model)
    org = orgs.most_common(1)[0][0] if orgs else None
    released = min(days) if days else (stamps[0] if stamps else None)
    weights = {s.open_weights for s in group if s.open_weights is not None}
    # The canonical name: an API-style spelling (no spaces) if there is one, without its stamp.
    names = sorted({spelling(s.id).base for s in group}, key=lambda n: (" " in n, len(n), n))
    slug = _STAMP.sub("", _unprefixed(names[0]).casefold())
    slug = re.sub(r"[^a-z0-9.]+", "-", slug).strip("-")
    prefix = _prefix(org)
    model = f"{prefix}/{slug}" if prefix else slug
    if _fold(model) in taken and stamps:
        model = f"{model}-{stamps[0].isoformat()}"
    if _fold(model) in taken:
        return None
    spec = ModelSpec(
        id=model,
        aliases=[n for n in names if _fold(n) != _fold(model)],
        organisation=org,
        open_weights=weights.pop() if len(weights) == 1 else None,
        release_date=released,
    )
    return Proposal(model, list(spec.aliases), list(group), spec, why="new model")


def _prefix(org: str | None) -> str:
    if org is None:
        return ""
    first = org.split(",")[0].strip().casefold()
    return _PREFIX.get(first) or re.sub(r"[^a-z0-9]+", "-", first).strip("-")


def _fold(name: str) -> str:
    return name.strip().casefold()


def render(s: Suggestions, header: str) -> str:
    """The proposals as a registry file (YAML) with a comment per entry saying where each
    spelling was seen; the ids left without a proposal are listed in comments at the end."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if s.aliases:
        lines += ["", "# More spellings of models the registry has.", "model_aliases:"]
        for p in s.aliases:
            lines += [f"  # {_seen(p.sightings)}", f"  {_q(p.model)}: [{_list(p.aliases)}]"]
    if s.new:
        lines += ["", "# New models.", "models:"]
        for p in s.new:
            assert p.new is not None
            lines += [f"  # {_seen(p.sightings)}", f"  - id: {_q(p.model)}"]
            if p.new.aliases:
                lines.append(f"    aliases: [{_list(p.new.aliases)}]")
            if p.new.organisation:
                lines.append(f"    organisation: {_q(p.new.organisation)}")
            if p.new.open_weights is not None:
                lines.append(f"    open_weights: {str(p.new.open_weights).lower()}")
            if p.new.release_date:
                lines.append(f"    release_date: {p.new.release_date.isoformat()}")
    if s.left:
        lines += ["", f"# No proposal for {len(s.left)} ids:"]
        lines += [f"#   {raw}: {why}" for raw, why in s.left]
    if not s.aliases and not s.new:
        lines += ["{}"]
    return "\n".join(lines) + "\n"


def _seen(sightings: list[Sighting]) -> str:
    by: dict[str, list[str]] = {}
    for s in sightings:
        by.setdefault(s.id, []).append(s.feed)
    return "; ".join(f"{raw!r} in {', '.join(sorted(set(f)))}" for raw, f in by.items())


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _list(items: list[str]) -> str:
    return ", ".join(_q(i) for i in items)
