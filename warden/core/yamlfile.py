"""YAML with line numbers: load a document and point pydantic errors back to `file:line`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warden.core.errors import CatalogError, Problem
from warden.core.redact import redact_loose


class Loader(yaml.SafeLoader):
    """The safe loader, reading numbers such as `1e25` and `5.0e24` as floats (YAML 1.2) rather
    than as strings (YAML 1.1): training compute is written that way."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class LocatedYaml:
    """A parsed YAML document that remembers where each value came from."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.node = yaml.compose(text, Loader=Loader)
        self.data: Any = yaml.load(text, Loader=Loader) if self.node is not None else None

    @classmethod
    def read(cls, path: Path) -> LocatedYaml:
        """Read and parse `path`; raises `Problem`-carrying YamlError on bad YAML or I/O."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise YamlError([Problem(str(path), f"cannot read: {exc}")]) from exc
        try:
            return cls(path, text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            problem = getattr(exc, "problem", None) or str(exc)
            raise YamlError([Problem(where, f"invalid YAML: {problem}")]) from exc

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The 1-based line of the deepest node found along `loc`."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def where(self, loc: Sequence[str | int]) -> str:
        return f"{self.path}:{self.line_of(loc)}"


class YamlError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [v for k, v in node.value if k.value == str(part)]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        children = node.value[part : part + 1] if part >= 0 else []
    return children[0] if children else None


SECRET_WORDS = {"secret", "token", "password", "key"}


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as `key.path: message (got ...)`, never echoing secrets."""
    loc = ".".join(str(p) for p in error["loc"])
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    elif (
        "input" in error
        and error["type"] != "missing"
        and not SECRET_WORDS & set(loc.lower().replace(".", "_").split("_"))
    ):
        value = error["input"]
        if isinstance(value, str):
            msg = f"{msg} (got {redact_loose(value)!r})"
        elif not isinstance(value, dict | list):
            msg = f"{msg} (got {value!r})"
    return f"{loc}: {msg}" if loc else msg


def problems_from(
    exc: ValidationError, doc: LocatedYaml | None, prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Turn a ValidationError into located problems."""
    out = []
    for error in exc.errors():
        # Leave out the tags pydantic adds for the branch of a union (`<condition>`).
        loc = [*prefix, *(p for p in error["loc"] if not str(p).startswith("<"))]
        where = doc.where(loc) if doc is not None else ""
        shown = dict(error, loc=loc)
        out.append(Problem(where, describe(shown)))
    return out


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to their `*.yaml`/`*.yml` files (sorted, not recursive)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                problems.append(Problem(str(path), "folder holds no *.yaml file"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    if problems:
        raise CatalogError(problems)
    return files
