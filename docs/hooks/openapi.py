"""mkdocs hook: the HTTP API reference, generated from the app's own OpenAPI schema.

On build, a Warden is assembled on the built-in defaults (the bundled catalog) with a throwaway
SQLite file, `create_app` builds the FastAPI app, and `app.openapi()` is rendered as Markdown in
place of the marker `<!-- openapi -->` on the page that holds it (reference/http-api.md). The
schema itself is written beside the built site as `reference/openapi.json`. No network, no
server: nothing listens on a port.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

MARKER = "<!-- openapi -->"
METHODS = ("get", "post", "put", "patch", "delete")

log = logging.getLogger("mkdocs.hooks.openapi")
_spec: dict[str, Any] | None = None


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI dict of warden's HTTP app, built once per mkdocs process."""
    global _spec
    if _spec is not None:
        return _spec
    saved = {k: v for k, v in os.environ.items() if k.startswith("WARDEN_")}
    with tempfile.TemporaryDirectory(prefix="warden-docs-") as tmp:
        try:
            # The built-in defaults only: no config file and no WARDEN_* variable of the
            # person building the docs leaks into the reference.
            for key in saved:
                del os.environ[key]
            os.environ["WARDEN_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'openapi.db'}"
            from warden.app.daemon import Warden
            from warden.app.settings import load_settings
            from warden.interfaces.api.app import create_app

            warden = Warden(load_settings(None))
            try:
                _spec = create_app(warden).openapi()
            finally:
                warden.store.dispose()
        finally:
            os.environ.pop("WARDEN_DATABASE_URL", None)
            os.environ.update(saved)
    return _spec


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(openapi_spec()))


def on_post_build(config: Any) -> None:
    if _spec is None:
        return
    out = Path(config["site_dir"]) / "reference" / "openapi.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Rendering


def render(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    lines = [
        f"OpenAPI {spec.get('openapi', '?')}, `{info.get('title', '')}` version "
        f"{info.get('version', '?')}.",
        "",
        "| method | path | summary |",
        "| --- | --- | --- |",
    ]
    operations = [
        (path, method, op)
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
        if method in METHODS
    ]
    for path, method, op in operations:
        lines.append(f"| `{method.upper()}` | `{path}` | {_cell(op.get('summary', ''))} |")
    for path, method, op in operations:
        lines += ["", f"### `{method.upper()} {path}`", ""]
        if op.get("description"):
            lines += [op["description"].strip(), ""]
        lines += _parameters(op.get("parameters", []), spec)
        lines += _request_body(op.get("requestBody"), spec)
        lines += _responses(op.get("responses", {}), spec)
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["", "### Schemas", ""]
        for name, schema in schemas.items():
            lines += [f"#### `{name}`", ""]
            lines += _object_table(schema, spec) or [f"Type: {_type(schema, spec)}.", ""]
    return "\n".join(lines) + "\n"


def _parameters(params: list[dict[str, Any]], spec: dict[str, Any]) -> list[str]:
    if not params:
        return []
    out = [
        "**Parameters**",
        "",
        "| name | in | type | required | default |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in params:
        schema = p.get("schema", {})
        default = f"`{json.dumps(schema['default'])}`" if "default" in schema else ""
        out.append(
            f"| `{p['name']}` | {p.get('in', '')} | {_type(schema, spec)} | "
            f"{'yes' if p.get('required') else 'no'} | {default} |"
        )
    return [*out, ""]


def _request_body(body: dict[str, Any] | None, spec: dict[str, Any]) -> list[str]:
    if not body:
        return []
    out = [f"**Request body** ({'required' if body.get('required') else 'optional'})", ""]
    for kind, content in body.get("content", {}).items():
        schema = _deref(content.get("schema", {}), spec)
        out += [f"`{kind}`: {_type(schema, spec)}", ""]
        item = _deref(schema.get("items", {}), spec) if schema.get("type") == "array" else schema
        if item.get("description"):
            out += [item["description"], ""]
        out += _object_table(item, spec)
    return out


def _responses(responses: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    if not responses:
        return []
    out = ["**Responses**", "", "| status | description | body |", "| --- | --- | --- |"]
    for status, response in responses.items():
        response = _deref(response, spec)
        bodies = [
            f"`{kind}`: {_type(c.get('schema', {}), spec)}"
            for kind, c in response.get("content", {}).items()
        ]
        out.append(
            f"| {status} | {_cell(response.get('description', ''))} | {'; '.join(bodies) or '—'} |"
        )
    return [*out, ""]


def _object_table(schema: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    schema = _deref(schema, spec)
    props = schema.get("properties")
    if not props:
        return []
    required = set(schema.get("required", []))
    out = ["| field | type | required | constraints |", "| --- | --- | --- | --- |"]
    for name, prop in props.items():
        out.append(
            f"| `{name}` | {_type(prop, spec)} | {'yes' if name in required else 'no'} | "
            f"{_constraints(prop, spec) or '—'} |"
        )
    if schema.get("additionalProperties") is False:
        out += ["", "Other fields are refused."]
    return [*out, ""]


def _deref(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node.get(part, {})
    return node if isinstance(node, dict) else {}


def _type(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    if not schema:
        return "any JSON"
    if isinstance(schema.get("$ref"), str):
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(s, spec) for s in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), spec)}"
    if kind == "object" and "additionalProperties" in schema and not schema.get("properties"):
        extra = schema["additionalProperties"]
        if isinstance(extra, dict):
            return f"object of {_type(extra, spec)}"
    if kind == "object" and schema.get("title"):
        return f"object (`{schema['title']}`)"
    if kind == "string" and schema.get("format"):
        return f"string ({schema['format']})"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind or "any JSON")


def _constraints(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    parts: list[str] = []
    for s in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        for key, text in (
            ("minLength", "length ≥ {}"),
            ("maxLength", "length ≤ {}"),
            ("minimum", "≥ {}"),
            ("exclusiveMinimum", "> {}"),
            ("maximum", "≤ {}"),
            ("exclusiveMaximum", "< {}"),
            ("pattern", "pattern `{}`"),
        ):
            if key in s:
                value = s[key]
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                parts.append(text.format(value))
    if "default" in schema:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    return "; ".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
