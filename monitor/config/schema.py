"""A small declarative schema for checks.yaml.

One description of each section serves three jobs: validating YAML nodes (so every error
carries its file, line and column), building typed values, and exporting JSON Schema for
editors. Errors are collected, never raised one by one, so `siaga validate` reports all of
them at once.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.errors import Problem


class _Invalid:
    """Marks a value that failed validation (its problem is already recorded)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_constructor = SafeConstructor()


@dataclass
class Ctx:
    """Validation context: where problems go, the environment, and where each path is."""

    file: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    problems: list[Problem] = field(default_factory=list)
    places: dict[str, tuple[int, int]] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    def error(self, node: Node | None, path: str, message: str) -> Any:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(Problem(self.file, line, col, path, message))
        return INVALID

    def error_at(self, path: str, message: str) -> None:
        """Record a problem found after building, at the place `path` was read from."""
        line, col = self.places.get(path, (1, 1))
        self.problems.append(Problem(self.file, line, col, path, message))


def scalar_value(node: Node) -> Any:
    return _constructor.construct_object(node, deep=True)


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = scalar_value(node)
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


class Field:
    """Base of all schema fields."""

    description: str = ""
    default: Any = INVALID  # INVALID means: no default

    def __init__(self, description: str = "", *, default: Any = INVALID) -> None:
        self.description = description
        self.default = default

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _doc(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            schema["description"] = self.description
        if isinstance(self.default, str | int | float | bool | list) and self.default != []:
            schema["default"] = self.default
        return schema


class Scalar(Field):
    """A field read from one YAML scalar."""

    expected = "a value"

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, ScalarNode):
            return ctx.error(node, path, f"expected {self.expected}, got {describe(node)}")
        return self.convert(scalar_value(node), node, path, ctx)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        return value


class Str(Scalar):
    expected = "a string"

    def __init__(
        self,
        description: str = "",
        *,
        default: Any = INVALID,
        pattern: str | None = None,
        hint: str = "",
        env: bool = True,
    ) -> None:
        super().__init__(description, default=default)
        self.pattern = re.compile(pattern) if pattern else None
        self.hint = hint
        self.env = env

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            return ctx.error(node, path, f"expected {self.expected}, got {describe(node)}")
        text = str(value)
        if self.env and "${" in text:
            text = substitute_env(text, node, path, ctx)
            if text is INVALID:
                return INVALID
        if not text:
            return ctx.error(node, path, "must not be empty")
        if self.pattern and not self.pattern.fullmatch(text):
            want = self.hint or f"a string matching {self.pattern.pattern}"
            return ctx.error(node, path, f"expected {want}, got {value!r}")
        return text

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.pattern:
            schema["pattern"] = self.pattern.pattern
        return self._doc(schema)


def substitute_env(text: str, node: Node, path: str, ctx: Ctx) -> Any:
    """Replace ${VAR} (or ${VAR:-default}) from the environment.

    Values from the environment are secrets, remembered so logs can redact them.
    """
    missing = [m.group(1) for m in _ENV_REF.finditer(text)
               if m.group(1) not in ctx.env and m.group(2) is None]
    if missing:
        names = ", ".join(f"${{{n}}}" for n in missing)
        return ctx.error(node, path, f"environment variable {names} is not set")

    def repl(match: re.Match[str]) -> str:
        if match.group(1) not in ctx.env:
            return match.group(2) or ""
        value = ctx.env[match.group(1)]
        if len(value) >= 4:
            ctx.secrets.add(value)
        return value

    return _ENV_REF.sub(repl, text)


class Int(Scalar):
    expected = "an integer"

    def __init__(
        self,
        description: str = "",
        *,
        default: Any = INVALID,
        min: float | None = None,
        max: float | None = None,
    ) -> None:
        super().__init__(description, default=default)
        self.min, self.max = min, max

    def _range(self) -> str:
        if self.min is not None and self.max is not None:
            return f"an integer {self.min}–{self.max}"
        if self.min is not None:
            return f"an integer ≥ {self.min}"
        return "an integer"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            return ctx.error(node, path, f"expected {self._range()}, got {describe(node)}")
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            return ctx.error(node, path, f"expected {self._range()}, got {value}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        return self._doc(schema)


class Float(Int):
    def _range(self) -> str:
        if self.min is not None and self.max is not None:
            return f"a number {self.min}–{self.max}"
        return "a number"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ctx.error(node, path, f"expected {self._range()}, got {describe(node)}")
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            return ctx.error(node, path, f"expected {self._range()}, got {value}")
        return float(value)

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema["type"] = "number"
        return schema


class Bool(Scalar):
    expected = "true or false"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, bool):
            return ctx.error(node, path, f"expected true or false, got {describe(node)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "boolean"})


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
DURATION_PATTERN = r"^((\d+(\.\d+)?)(ms|s|m|h|d|w))+$"


def parse_duration(text: str) -> float | None:
    """'1h30m' → 5400.0; None when it is not a duration."""
    text = text.strip().replace(" ", "")
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))


def format_duration(seconds: float) -> str:
    """5400 → '1h30m'; 0.5 → '500ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    parts, rest = [], round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


class Duration(Scalar):
    expected = "a duration like 30s, 5m or 1h30m"

    def __init__(
        self,
        description: str = "",
        *,
        default: Any = INVALID,
        min: float | None = None,
        max: float | None = None,
    ) -> None:
        super().__init__(description, default=default)
        self.min, self.max = min, max

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool):
            seconds = None
        elif isinstance(value, int | float):
            seconds = float(value)
        else:
            seconds = parse_duration(str(value)) if value is not None else None
        if seconds is None:
            return ctx.error(node, path, f"expected {self.expected}, got {describe(node)}")
        if self.min is not None and seconds < self.min:
            return ctx.error(
                node, path, f"must be at least {format_duration(self.min)}, got {value}"
            )
        if self.max is not None and seconds > self.max:
            return ctx.error(node, path,
                             f"must be at most {format_duration(self.max)}, got {value}")
        return seconds

    def json_schema(self) -> dict[str, Any]:
        return self._doc(
            {"oneOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number"}]}
        )


class Enum(Scalar):
    def __init__(self, values: Iterable[str], description: str = "", *, default: Any = INVALID):
        super().__init__(description, default=default)
        self.values = list(values)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        if text is not None and text in self.values:
            return text
        if text is not None and text.upper() in self.values:
            return text.upper()
        hint = did_you_mean(str(value), self.values)
        choices = ", ".join(self.values)
        return ctx.error(node, path, f"expected one of {choices}, got {describe(node)}{hint}")

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"enum": self.values})


class Url(Str):
    def __init__(self, description: str = "", *, schemes: tuple[str, ...] = ("http", "https")):
        super().__init__(description)
        self.schemes = schemes

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        try:
            parts = urlsplit(text)
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            parts, port_ok = None, False
        want = " or ".join(f"{s}://" for s in self.schemes)
        if parts is None or parts.scheme not in self.schemes or not parts.hostname or not port_ok:
            shown = "a URL from the environment" if text != str(value) else repr(value)
            return ctx.error(node, path,
                             f"expected a URL starting with {want} and a host, got {shown}")
        return text

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "string", "format": "uri"})


class ListOf(Field):
    def __init__(
        self,
        item: Field,
        description: str = "",
        *,
        default: Any = INVALID,
        min_items: int = 0,
        single_ok: bool = False,
    ) -> None:
        super().__init__(description, default=default)
        self.item, self.min_items, self.single_ok = item, min_items, single_ok

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, SequenceNode):
            if self.single_ok and not isinstance(node, MappingNode):
                return [self.item.check(node, path, ctx)]
            return ctx.error(node, path, f"expected a list, got {describe(node)}")
        if len(node.value) < self.min_items:
            return ctx.error(node, path, f"expected at least {self.min_items} item(s)")
        out = []
        for i, child in enumerate(node.value):
            child_path = f"{path}[{i}]"
            ctx.places[child_path] = (child.start_mark.line + 1, child.start_mark.column + 1)
            out.append(self.item.check(child, child_path, ctx))
        return out

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.single_ok:
            return self._doc({"anyOf": [schema, self.item.json_schema()]})
        return self._doc(schema)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def mapping_items(node: MappingNode, path: str, ctx: Ctx) -> list[tuple[str, Node, Node]]:
    """Key/value pairs of a mapping; duplicate and non-string keys are problems."""
    seen: dict[str, int] = {}
    items = []
    for key_node, value_node in node.value:
        key = scalar_value(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            ctx.error(key_node, path, f"keys must be strings, got {describe(key_node)}")
            continue
        if key in seen:
            ctx.error(key_node, join(path, key), f"duplicate key (first on line {seen[key]})")
            continue
        seen[key] = key_node.start_mark.line + 1
        items.append((key, key_node, value_node))
    return items


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class MapOf(Field):
    def __init__(
        self,
        value: Field,
        description: str = "",
        *,
        default: Any = INVALID,
        key_pattern: str | None = None,
        key_hint: str = "",
    ) -> None:
        super().__init__(description, default=default)
        self.value = value
        self.key_pattern = re.compile(key_pattern) if key_pattern else None
        self.key_hint = key_hint

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, MappingNode):
            return ctx.error(node, path, f"expected a mapping, got {describe(node)}")
        out = {}
        for key, key_node, value_node in mapping_items(node, path, ctx):
            child_path = join(path, key)
            ctx.places[child_path] = (value_node.start_mark.line + 1,
                                      value_node.start_mark.column + 1)
            if self.key_pattern and not self.key_pattern.fullmatch(key):
                ctx.error(key_node, child_path, f"invalid name {key!r}, expected {self.key_hint}")
                continue
            out[key] = self.value.check(value_node, child_path, ctx)
        return out

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.value.json_schema(),
        }
        return self._doc(schema)


Builder = Callable[[dict[str, Any], Node, str, Ctx], Any]


class Obj(Field):
    """A mapping with known keys. `build` turns the checked values into a typed object."""

    def __init__(
        self,
        fields: dict[str, Field],
        description: str = "",
        *,
        required: Iterable[str] = (),
        build: Builder | None = None,
        default: Any = INVALID,
        partial: bool = False,
    ) -> None:
        super().__init__(description, default=default)
        self.fields = fields
        self.required = list(required)
        self.build = build
        self.partial = partial  # build even when a child is invalid (to find more problems)

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, MappingNode):
            return ctx.error(node, path, f"expected a mapping, got {describe(node)}")
        values: dict[str, Any] = {}
        ok = True
        for key, key_node, value_node in mapping_items(node, path, ctx):
            child_path = join(path, key)
            spec = self.fields.get(key)
            if spec is None:
                hint = did_you_mean(key, self.fields)
                known = "" if hint else f"; known keys: {', '.join(self.fields)}"
                ctx.error(key_node, child_path, f"unknown key{hint}{known}")
                ok = False
                continue
            ctx.places[child_path] = (value_node.start_mark.line + 1,
                                      value_node.start_mark.column + 1)
            value = spec.check(value_node, child_path, ctx)
            ok = ok and not contains_invalid(value)
            values[key] = value
        for key in self.required:
            if key not in values and not any(k == key for k, _, _ in mapping_items_quiet(node)):
                ctx.error(node, join(path, key), "is required")
                ok = False
        for key, spec in self.fields.items():
            if key not in values and spec.default is not INVALID:
                values[key] = spec.default
        if not ok and not self.partial:
            return INVALID
        return self.build(values, node, path, ctx) if self.build else values

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            schema["required"] = self.required
        return self._doc(schema)


def mapping_items_quiet(node: MappingNode) -> list[tuple[Any, Node, Node]]:
    return [
        (scalar_value(k) if isinstance(k, ScalarNode) else None, k, v) for k, v in node.value
    ]


def contains_invalid(value: Any) -> bool:
    if value is INVALID:
        return True
    if isinstance(value, list):
        return any(contains_invalid(v) for v in value)
    if isinstance(value, dict):
        return any(contains_invalid(v) for v in value.values())
    return False


def compose(text: str, file: str) -> Node | Problem | None:
    """Parse YAML into a node tree (keeping places), or a Problem for a syntax error."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(file, line, col, "", f"YAML syntax error: {what}")
    except yaml.YAMLError as exc:
        return Problem(file, 1, 1, "", f"YAML error: {exc}")
