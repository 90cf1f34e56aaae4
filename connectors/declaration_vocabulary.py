"""The words each frontier safety framework declares its levels in, for the `system_cards`
connector: which sentences of a system card declare a level, of which framework, in which
domain, and with which status.

Hand-written rather than a language model or an NLP library: the frameworks' vocabularies are
small and fixed (a level named the way its policy names it), the result must be explainable
("this sentence, these words"), and every candidate is checked by a person before it counts.
A sentence is a candidate only when it names a level *and* carries a status cue; a sentence that
mentions ASL-3 in passing ("The ASL-3 Security Standard includes egress controls.") is not one.

- Anthropic RSP (`anthropic-rsp`): `ASL-n` (also "ASL n", "AI Safety Level n"); the domain from
  words in the sentence (CBRN, biological/chemical weapons; AI R&D, autonomy; cyber).
- OpenAI Preparedness Framework (`openai-preparedness`): `High` / `Critical` capability (or
  threshold), capitalised as the framework writes them; the tracked categories "Biological and
  Chemical", "Cybersecurity", "AI Self-improvement".
- Google DeepMind Frontier Safety Framework (`gdm-fsf`): a Critical Capability Level by name
  ("CBRN Uplift Level 1", "Cyber Autonomy Level 1", "Machine Learning R&D Uplift Level 1",
  "Harmful Manipulation Level 1", ...), whose family gives the domain; "alert threshold" and
  "early warning" are its early-warning cues.

Statuses (warden/core/declarations.py), tried in this order: could_not_rule_out ("could not
rule out", "not yet determined", "precautionary", "treat ... as High capability"),
early_warning_reached (an alert threshold or early warning reached), below ("does not reach",
"below", "ruled out"), crossed ("reached", "crossed", "exceeds", "meets"). The status is only a
proposal: the person confirming may give another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRAMEWORKS = ("anthropic-rsp", "openai-preparedness", "gdm-fsf")
ORGANISATIONS = {
    "anthropic-rsp": "Anthropic",
    "openai-preparedness": "OpenAI",
    "gdm-fsf": "Google DeepMind",
}


@dataclass(frozen=True)
class Found:
    """One level a sentence declares: framework, level as the framework spells it, domain (None
    when the sentence names none) and the proposed status."""

    framework: str
    level: str
    domain: str | None
    status: str


# -- levels ----------------------------------------------------------------------------------
_ASL = re.compile(r"\b(?:ASL[- ]?|AI Safety Level\s+)([1-9])\b")
_OPENAI_LEVEL = re.compile(
    r"\b(High|Critical)(?:\s+|-)(?:capability|capabilities|threshold|risk|level)\b"
    r"|\bas\s+(High|Critical)\s+(?:in|for)\b"
)
_GDM_FAMILIES = (
    # (pattern of the family as written, its canonical name, the domain)
    (r"CBRN(?:\s+Uplift)?", "CBRN Uplift", "CBRN"),
    (r"Cyber\s+Autonomy", "Cyber Autonomy", "cyber"),
    (r"Cyber(?:\s+Uplift)?", "Cyber Uplift", "cyber"),
    (
        r"(?:Machine\s+Learning|ML)\s+R&D\s+(?:Uplift|Acceleration)",
        "Machine Learning R&D Uplift",
        "ml-r&d",
    ),
    (r"(?:Machine\s+Learning|ML)\s+R&D\s+Autonomy", "Machine Learning R&D Autonomy", "ml-r&d"),
    (r"Harmful\s+Manipulation", "Harmful Manipulation", "harmful-manipulation"),
    (r"Instrumental\s+Reasoning", "Instrumental Reasoning", "misalignment"),
)
_GDM = [
    (re.compile(rf"\b({pattern})\s+Level\s+([1-9])\b"), name, domain)
    for pattern, name, domain in _GDM_FAMILIES
]

# -- domains ---------------------------------------------------------------------------------
_ANTHROPIC_DOMAINS = (
    (re.compile(r"\bCBRN|\bbiolog|\bchemical|\bbioweapon|\bweapons? of mass", re.I), "CBRN"),
    (re.compile(r"\bAI R&D\b|\bautonomous (?:AI )?research|\bautonomy\b", re.I), "AI R&D"),
    (re.compile(r"\bcyber", re.I), "cyber"),
)
_OPENAI_DOMAINS = (
    (
        re.compile(r"\bbiological and chemical|\bbiology and chemistry|\bbiolog|\bchemical", re.I),
        "biological-and-chemical",
    ),
    (re.compile(r"\bcyber", re.I), "cybersecurity"),
    (re.compile(r"\bself[- ]improvement", re.I), "ai-self-improvement"),
)

# -- statuses --------------------------------------------------------------------------------
_NOT = r"(?:not|n't|never|unable to|no longer)"
_REACH = (
    r"(?:reach|reached|reaches|cross|crossed|crosses|exceed|exceeds|exceeded|meet|meets|met"
    r"|pass|passed|passes|hit|hits|trigger|triggered|triggers)"
)
_COULD_NOT_RULE_OUT = re.compile(
    rf"\b(?:{_NOT}|cannot)\s+(?:[\w.-]+\s+){{0,3}}?rule\s+out"
    r"|\bnot\s+(?:yet\s+)?(?:been\s+able\s+to\s+)?(?:definitively\s+|conclusively\s+)?"
    r"(?:determined|ruled\s+out|able\s+to\s+rule)"
    r"|\bprecaution(?:ary|arily)?\b|\bprovisional(?:ly)?\b"
    r"|\b(?:treat|treats|treated|treating)\b.{0,80}?\bas\s+(?:High|Critical)\b",
    re.I,
)
_EARLY = r"(?:alert\s+threshold|early[- ]warning)"
_EARLY_REACHED = re.compile(
    rf"\b{_REACH}\b\s+(?:\w+\s+){{0,4}}?{_EARLY}|{_EARLY}s?\s+(?:\w+\s+){{0,6}}?"
    rf"(?:was|were|has\s+been|have\s+been|is)\s+(?:\w+\s+)?{_REACH}\b",
    re.I,
)
_BELOW = re.compile(
    rf"\b(?:{_NOT}|did\s+not|does\s+not|do\s+not|has\s+not|have\s+not)\s+(?:[\w.-]+\s+){{0,4}}?"
    rf"{_REACH}\b|\bunder\s+the\s+(?:\w+\s+){{0,3}}?threshold"
    r"|\bbelow\s+(?:\w+\s+){0,4}?(?:thresholds?|levels?|ASL|High|Critical|CCLs?|capabilit)"
    r"|\b(?:ruled|rule|rules|ruling)\s+out\b|\bnone\s+of\b.{0,60}\b(?:reached|crossed)\b",
    re.I,
)
_CROSSED = re.compile(
    rf"\b{_REACH}\b|\b(?:determined|concluded|found)\s+that\b.{{0,80}}\b(?:has|have|possesses)\b"
    r"|\brequires?\s+(?:the\s+)?ASL-",
    re.I,
)


def status_of(sentence: str) -> str | None:
    """The status a sentence declares, by its cue words; None when it has none."""
    if _COULD_NOT_RULE_OUT.search(sentence):
        return "could_not_rule_out"
    if _EARLY_REACHED.search(sentence):
        return "early_warning_reached"
    if _BELOW.search(sentence):
        return "below"
    if _CROSSED.search(sentence):
        return "crossed"
    return None


def _first_domain(sentence: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    return next((domain for pattern, domain in table if pattern.search(sentence)), None)


Level = tuple[str, str, str | None]


def levels(sentence: str, framework: str | None, preparedness: bool) -> list[Level]:
    """(framework, level, domain) of each level `sentence` names, in the order it names them,
    once each. `framework` restricts the search to one; `preparedness` says the document is
    OpenAI's (it names the Preparedness Framework), without which "High capability" must come
    with one of its categories to count."""
    out: list[tuple[int, str, str, str | None]] = []
    if framework in (None, "anthropic-rsp"):
        domain = _first_domain(sentence, _ANTHROPIC_DOMAINS)
        for m in _ASL.finditer(sentence):
            out.append((m.start(), "anthropic-rsp", f"ASL-{m.group(1)}", domain))
    if framework in (None, "openai-preparedness"):
        anywhere = _first_domain(sentence, _OPENAI_DOMAINS)
        if preparedness or anywhere is not None or framework is not None:
            matches = list(_OPENAI_LEVEL.finditer(sentence))
            for i, m in enumerate(matches):
                after = matches[i + 1] if i + 1 < len(matches) else None
                # "High capability in Cybersecurity, ... the High threshold for AI
                # Self-improvement": each level with the category named after it.
                tail = sentence[m.end() : after.start() if after else len(sentence)]
                domain = _first_domain(tail, _OPENAI_DOMAINS) or anywhere
                out.append((m.start(), "openai-preparedness", m.group(1) or m.group(2), domain))
    if framework in (None, "gdm-fsf"):
        taken: list[tuple[int, int]] = []
        for pattern, name, domain in _GDM:
            for m in pattern.finditer(sentence):
                if any(a <= m.start() < b for a, b in taken):
                    continue  # "Cyber Autonomy Level 1" is not also "Cyber Uplift Level 1"
                taken.append(m.span())
                out.append((m.start(), "gdm-fsf", f"{name} Level {m.group(2)}", domain))
    found: list[Level] = []
    for _, fw, level, domain in sorted(out, key=lambda x: x[0]):
        if (fw, level, domain) not in found:
            found.append((fw, level, domain))
    return found


def declarations(sentence: str, framework: str | None, preparedness: bool) -> list[Found]:
    """The levels `sentence` declares with a status; none when it names no level or has no
    status cue."""
    named = levels(sentence, framework, preparedness)
    if not named:
        return []
    status = status_of(sentence)
    if status is None:
        return []
    return [Found(fw, level, domain, status) for fw, level, domain in named]


# -- sentences -------------------------------------------------------------------------------
# Words ending in a full stop that do not end a sentence.
# fmt: off
_ABBREVIATIONS = frozenset({
    "e.g", "i.e", "etc", "vs", "fig", "figs", "no", "nos", "al", "approx", "cf", "dr", "mr",
    "mrs", "ms", "sec", "secs", "st", "eq", "eqs", "ref", "refs", "appx", "app", "inc", "ltd",
    "co", "corp", "jr", "sr",
})
# fmt: on
# After the full stop: closing quotes or brackets (curly ones too), then space, then a capital.
_BOUNDARY = re.compile("(?<=[.!?])[\"'\u201d\u2019)\\]]*\\s+(?=[\"'\u201c\u2018(\\[]?[A-Z0-9])")
_SPACE = re.compile(r"\s+")


def sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph of text, whitespace collapsed, each as written."""
    text = _SPACE.sub(" ", paragraph).strip()
    if not text:
        return []
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[start : m.start()].rsplit(" ", 1)[-1].strip("([\"'.!?").lower()
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue  # "e.g. ASL-3", "J. Smith"
        end = m.start() + len(m.group(0).rstrip())
        out.append(text[start:end].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]
