"""Reloads validate only the checks whose text changed.

Every load notes, per check, a digest of the lines its YAML node spans (`Config.sources`,
aligned with `Config.checks`; it travels in the compiled-config cache, so a daemon started
from it has them too). The next load of the same file, given that config as `previous`,
takes the previous `Check` object for every item whose lines are the same, without
validating it again: at 20,000 checks, validation and building are 1.2 s of a 1.8 s load.

An item's lines decide its Check only when nothing outside them does, so reuse is off for
the whole file when anything else could: a different file path, `defaults:` written
differently, another value of an environment variable a check's validation reads (the
proxy variables, a `${VAR}` in `defaults:`; an item holding a `${VAR}` is never reused, its
value is a secret to learn), or an anchor, alias or tag anywhere (a merge key pulls text
from elsewhere). The whole-file rules (unique names, dependencies, escalation policies,
maintenance) run over every check each time. A reused item's places (line and column of
each field) are found only when a problem is reported inside it (`Ctx.place`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from monitor.config.document import has_anchor_or_tag
from monitor.config.model import Check, Config
from monitor.config.schema import Ctx, Field, ListOf
from monitor.probes.http.probe import PROXY_ENV

_ENV_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")  # as monitor.config.scalars reads them


@dataclass(frozen=True, slots=True)
class Reused:
    """A `checks:` item taken as it was: the previous load's Check."""

    check: Check
    path: str


def _digest(*parts: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.digest()


class Sources:
    """The source digests of one load's checks, and the previous load's checks by theirs."""

    def __init__(self, text: str, file: str, root: Node, env: Mapping[str, str],
                 previous: Config | None) -> None:
        self.lines = text.split("\n")
        self.enabled = not has_anchor_or_tag(text)
        defaults = self._defaults_text(root)
        # `defaults:` as written and as it reads now: the value of each ${VAR} it holds (an
        # edited file's start takes checks from a load made with another environment)
        self.context = _digest(file, defaults,
                               *(f"{k}={env[k]}" for k in PROXY_ENV if k in env),
                               *(f"${name}={env[name]}" if name in env else f"${name} unset"
                                 for name in sorted(set(_ENV_NAME.findall(defaults)))))
        self.keys: list[bytes] = []  # per item of `checks:`, in order (b"": not reusable)
        self.previous: dict[bytes, Check] = {}
        if self.enabled and previous is not None and previous.source_context == self.context:
            self.previous = {k: c for k, c in zip(previous.sources, previous.checks,
                                                  strict=False) if k}

    def _defaults_text(self, root: Node) -> str:
        if not isinstance(root, MappingNode):
            return ""
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "defaults":
                return self.span(value)
        return ""

    def span(self, node: Node) -> str:
        """The whole lines `node` is written on (more than the node itself, never less)."""
        start, end = node.start_mark, node.end_mark
        last = end.line + 1 if end.column > 0 else end.line
        return "\n".join(self.lines[start.line:max(last, start.line + 1)])

    def key(self, node: Node) -> bytes:
        if not self.enabled:
            return b""
        text = self.span(node)
        return b"" if "${" in text else _digest(text)


class CheckList(ListOf):
    """The `checks:` list, taking unchanged items from the previous load (see above)."""

    def __init__(self, item: Field, description: str, sources: Sources | None) -> None:
        super().__init__(item, description, default=[])
        self.sources = sources

    def item_value(self, node: Node, path: str, ctx: Ctx) -> Any:
        if self.sources is None:
            return self.item.check(node, path, ctx)
        key = self.sources.key(node)
        self.sources.keys.append(key)
        found = self.sources.previous.get(key) if key else None
        if found is None:
            return self.item.check(node, path, ctx)
        ctx.defer(path, self.item, node)
        return Reused(found, path)
