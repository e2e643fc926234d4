"""A Markdown reference of every checks.yaml key, generated from the schema itself (so the
README's reference cannot drift from what `siaga validate` accepts)."""

from __future__ import annotations

from typing import Any

from monitor.config.schema import INVALID, Field, ListOf, MapOf, Obj


def _type(field: Field) -> str:
    schema = field.json_schema()
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind is None and "oneOf" in schema:
        return "duration" if any("pattern" in s for s in schema["oneOf"]) else "value"
    if kind is None and "anyOf" in schema:
        return "list or one item"
    return {"string": "string", "integer": "integer", "number": "number",
            "boolean": "bool", "array": "list", "object": "mapping"}.get(str(kind), str(kind))


def _default(field: Field, builtin: Any = INVALID) -> str:
    value: Any = field.default if builtin is INVALID else builtin
    if value == "":
        return '`""`'
    if isinstance(value, float) and field.json_schema().get("oneOf"):
        from monitor.config.scalars import format_duration

        return f"`{format_duration(value)}`"
    if value is INVALID or value is None or value == [] or isinstance(value, Obj):
        return ""
    if hasattr(value, "__dataclass_fields__"):
        return ""
    return f"`{value}`"


def rows(field: Field, path: str,
         builtin: dict[str, Any] | None = None) -> list[tuple[str, str, str, str]]:
    """(path, type, default, meaning) for `field` and everything under it."""
    builtin = builtin or {}
    out: list[tuple[str, str, str, str]] = []
    if isinstance(field, Obj):
        for key, child in field.fields.items():
            child_path = f"{path}.{key}" if path else key
            required = " (required)" if key in field.required else ""
            inherited = path in ("defaults", "checks[]")
            default = _default(child, builtin.get(key, INVALID) if inherited else INVALID)
            out.append((child_path, _type(child), default, (child.description or "") + required))
            out += rows(child, child_path, builtin)
    elif isinstance(field, ListOf):
        out += rows(field.item, f"{path}[]", builtin)
    elif isinstance(field, MapOf):
        out += rows(field.value, f"{path}.NAME", builtin)
    return out


def markdown(root: Obj) -> str:
    from monitor.config.loader import BUILTIN_DEFAULTS

    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    seen: set[str] = set()
    for path, kind, default, doc in rows(root, "", BUILTIN_DEFAULTS):
        if path in seen:
            continue
        seen.add(path)
        lines.append(f"| `{path}` | {kind} | {default} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
