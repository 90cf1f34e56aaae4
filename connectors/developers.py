"""Who develops a model, told from its id, for connectors that must say whether a result was
submitted by the model's own developer (then `measured_by: vendor`) or by someone else.

A short table of id prefixes of the frontier developers; a model it does not know has no known
developer, and a result about it is never taken for the vendor's own.
"""

from __future__ import annotations

from collections.abc import Iterable

# Lower-case id prefix (after any `org/`) -> the developer's names as submitters spell them.
PREFIXES: dict[str, tuple[str, ...]] = {
    "claude": ("anthropic",),
    "gpt": ("openai",),
    "o1": ("openai",),
    "o3": ("openai",),
    "o4": ("openai",),
    "codex": ("openai",),
    "gemini": ("google", "google deepmind", "deepmind"),
    "gemma": ("google", "google deepmind", "deepmind"),
    "llama": ("meta", "meta ai", "facebook"),
    "grok": ("xai",),
    "qwen": ("alibaba", "qwen", "alibaba cloud"),
    "deepseek": ("deepseek",),
    "mistral": ("mistral", "mistral ai"),
    "devstral": ("mistral", "mistral ai"),
    "nova": ("amazon", "aws"),
    "kimi": ("moonshot", "moonshot ai"),
    "glm": ("zhipu", "zhipu ai", "z.ai"),
    "doubao": ("bytedance",),
}


def developers(model: str) -> tuple[str, ...]:
    """The developer names of `model` (lower case), or () when the table does not know it."""
    name = model.rsplit("/", 1)[-1].strip().lower()
    for prefix, names in PREFIXES.items():
        if name.startswith(prefix):
            return names
    return ()


def by_developer(models: Iterable[str], submitters: Iterable[str]) -> bool:
    """Whether the submitters are all the developer of every model named (a lab's own entry)."""
    orgs = {s.strip().lower() for s in submitters if s.strip()}
    names = [developers(m) for m in models]
    return bool(orgs) and bool(names) and all(n and orgs <= set(n) for n in names)
