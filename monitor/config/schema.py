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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.config.document import merged_pairs
from monitor.errors import Problem


class _Invalid:
    """Marks a value that failed validation (its problem is already recorded)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
_constructor = SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Ctx:
    """Validation context: where problems go, the environment, and where each path is."""

    file: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    problems: list[Problem] = field(default_factory=list)
    places: dict[str, tuple[int, int]] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    # list items taken unvalidated from a previous load (monitor.config.reuse), by path:
    # their places are read only when a problem is reported inside one
    deferred: dict[str, tuple[Field, Node]] = field(default_factory=dict)

    def error(self, node: Node | None, path: str, message: str) -> Any:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(Problem(self.file, line, col, path, message))
        return INVALID

    def error_at(self, path: str, message: str) -> None:
        """Record a problem found after building, at the place `path` was read from."""
        line, col = self.place(path) or (1, 1)
        self.problems.append(Problem(self.file, line, col, path, message))

    def defer(self, path: str, spec: Field, node: Node) -> None:
        """`node`, valid as `spec` in an earlier load, was not checked again at `path`."""
        self.deferred[path] = (spec, node)

    def place(self, path: str) -> tuple[int, int] | None:
        """(line, column) `path` was read from, or None."""
        found = self.places.get(path)
        if found is None and "]" in path:
            item = path[:path.index("]") + 1]  # checks[name].http.url → checks[name]
            deferred = self.deferred.pop(item, None)
            if deferred is not None:  # walk it now, for its places only
                spec, node = deferred
                spec.check(node, item, Ctx(file=self.file, env=self.env, places=self.places))
                found = self.places.get(path)
        return found


def scalar_value(node: Node) -> Any:
    """The Python value of a scalar node (int, bool, str, …, as YAML 1.1 resolves it)."""
    if node.tag == _STR_TAG:
        return node.value  # most scalars; the constructor would only copy it
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError, TypeError):
        # An implicit timestamp that is no date (2026-02-30), `!!int abc`: the text as written,
        # which the field then refuses in its own words.
        return str(node.value)
    finally:
        # The constructor memoizes every node it saw; dropping the entry keeps it from
        # holding a whole file's node tree alive after the load (65 MB at 20,000 checks).
        _constructor.constructed_objects.pop(node, None)


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
        names = [item_name(c) if path == "checks" else None for c in node.value]
        seen = Counter(names)  # one count, not a list.count per item (quadratic at 20,000)
        for i, child in enumerate(node.value):
            named = names[i] if seen[names[i]] == 1 else None  # duplicates: by index
            child_path = f"{path}[{named or i}]"
            ctx.places[child_path] = (child.start_mark.line + 1, child.start_mark.column + 1)
            out.append(self.item_value(child, child_path, ctx))
        return out

    def item_value(self, node: Node, path: str, ctx: Ctx) -> Any:
        return self.item.check(node, path, ctx)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.single_ok:
            return self._doc({"anyOf": [schema, self.item.json_schema()]})
        return self._doc(schema)


_ITEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def item_name(node: Node) -> str | None:
    """The `name:` of a list item, so a path reads `checks[sipd].http.url`, not
    `checks[4].http.url` (an item without a plain name keeps its index)."""
    if not isinstance(node, MappingNode):
        return None
    for key, value in node.value:
        if (isinstance(key, ScalarNode) and key.value == "name" and isinstance(value, ScalarNode)
                and _ITEM_NAME.fullmatch(value.value) and not value.value.isdigit()):
            return str(value.value)
    return None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def mapping_items(node: MappingNode, path: str, ctx: Ctx) -> list[tuple[str, Node, Node]]:
    """Key/value pairs of a mapping; duplicate and non-string keys are problems."""
    seen: dict[str, int] = {}
    items = []
    pairs, bad = merged_pairs(node)
    for value_node in bad:
        ctx.error(value_node, path, "a merge key (<<) takes a mapping, an alias of one "
                  f"(*name) or a list of them, got {describe(value_node)}")
    for key_node, value_node in pairs:
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
        free_prefix: str | None = None,
    ) -> None:
        super().__init__(description, default=default)
        self.fields = fields
        self.free_prefix = free_prefix  # keys with it are the user's own (anchors to merge)
        self.required = list(required)
        self.defaults = [(k, f.default) for k, f in fields.items() if f.default is not INVALID]
        self.build = build
        self.partial = partial  # build even when a child is invalid (to find more problems)

    def _unknown(self, key: str, node: MappingNode) -> str:
        """An unknown key's message; one that belongs a level deeper says where."""
        for sibling, sibling_node in ((k.value, k) for k, _ in node.value
                                      if isinstance(k, ScalarNode)):
            spec = self.fields.get(sibling)
            if isinstance(spec, Obj) and key in spec.fields:
                line = sibling_node.start_mark.line + 1
                return f"`{key}` belongs under `{sibling}:` (line {line}): indent it one level more"
        hint = did_you_mean(key, self.fields)
        known = "" if hint else f"; known keys: {', '.join(self.fields)}"
        return f"unknown key{hint}{known}"

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, MappingNode):
            return ctx.error(node, path, f"expected a mapping, got {describe(node)}")
        values: dict[str, Any] = {}
        ok = True
        for key, key_node, value_node in mapping_items(node, path, ctx):
            child_path = join(path, key)
            spec = self.fields.get(key)
            if spec is None and self.free_prefix and key.startswith(self.free_prefix):
                continue
            if spec is None:
                ctx.error(key_node, child_path, self._unknown(key, node))
                ok = False
                continue
            ctx.places[child_path] = (value_node.start_mark.line + 1,
                                      value_node.start_mark.column + 1)
            value = spec.check(value_node, child_path, ctx)
            # (a partial mapping is built either way: no need to look into its values)
            if value is INVALID or (ok and not self.partial and isinstance(value, _CONTAINERS)
                                    and contains_invalid(value)):
                ok = False
            values[key] = value
        for key in self.required:
            if key not in values and not any(k == key for k, _, _ in mapping_items_quiet(node)):
                ctx.error(node, join(path, key), "is required")
                ok = False
        for key, default in self.defaults:
            if key not in values:
                values[key] = default
        if not ok and not self.partial:
            return INVALID
        return self.build(values, node, path, ctx) if self.build else values

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        if self.free_prefix:
            schema["patternProperties"] = {f"^{re.escape(self.free_prefix)}": {}}
        if self.required:
            schema["required"] = self.required
        return self._doc(schema)


def mapping_items_quiet(node: MappingNode) -> list[tuple[Any, Node, Node]]:
    return [
        (scalar_value(k) if isinstance(k, ScalarNode) else None, k, v)
        for k, v in merged_pairs(node)[0]
    ]


_CONTAINERS = (list, dict)  # the values contains_invalid looks into


def contains_invalid(value: Any) -> bool:
    if value is INVALID:
        return True
    if isinstance(value, list):
        return any(contains_invalid(v) for v in value)
    if isinstance(value, dict):
        return any(contains_invalid(v) for v in value.values())
    return False
