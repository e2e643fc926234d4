"""The scalar field types of the checks.yaml schema: strings (with ${VAR} from the
environment), numbers, booleans, durations like 1h30m, enums and URLs."""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter
from yaml.nodes import Node

from monitor.config.hostnames import check_host
from monitor.config.schema import INVALID, Ctx, Scalar, describe, did_you_mean

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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


def expand_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with ${VAR} (or ${VAR:-default}) replaced from `env`, and the names that are
    not set (for command-line arguments; checks.yaml goes through `substitute_env`)."""
    missing = [m.group(1) for m in _ENV_REF.finditer(text)
               if m.group(1) not in env and m.group(2) is None]
    return _ENV_REF.sub(lambda m: env.get(m.group(1), m.group(2) or ""), text), missing


class Bounded(Scalar):
    """A scalar with an optional minimum and maximum."""

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


# Largest integer any field takes unless it says otherwise: beyond it, counts and sizes
# overflow C integers at run time (a read of 10**20 bytes raises OverflowError).
INT_MAX = 2**31 - 1


class Int(Bounded):
    expected = "an integer"

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
            return ctx.error(node, path, f"expected {self._range()}, got {_shown(value)}")
        if abs(value) > INT_MAX:
            return ctx.error(node, path, f"must be at most {INT_MAX}, got {_shown(value)}")
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
        return "a finite number"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ctx.error(node, path, f"expected {self._range()}, got {describe(node)}")
        number = _finite(value)
        if number is None:
            return ctx.error(node, path, f"expected {self._range()}, got {_shown(value)}")
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            return ctx.error(node, path, f"expected {self._range()}, got {_shown(value)}")
        return number

    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema["type"] = "number"
        return schema


def _shown(number: float) -> str:
    """A number as written, but short: 10**400 is not echoed in full."""
    text = str(number)
    return text if len(text) <= 24 else f"{text[:20]}… ({len(text)} digits)"


def _finite(value: float) -> float | None:
    """The value as a float; None for NaN, infinity and integers too big for a float."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


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


# Longest duration any field takes unless it says otherwise: longer ones overflow dates
# (a window of 99999999w ends after the year 9999) and mean nothing to a monitor.
MAX_DURATION = 3660 * 86400.0


class Duration(Bounded):
    expected = "a duration like 30s, 5m or 1h30m"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool):
            seconds = None
        elif isinstance(value, int | float):
            seconds = _finite(value)
        else:
            seconds = parse_duration(str(value)) if value is not None else None
        if seconds is None or not math.isfinite(seconds):
            shown = _shown(value) if isinstance(value, int | float) else describe(node)
            return ctx.error(node, path, f"expected {self.expected}, got {shown}")
        if seconds > MAX_DURATION and (self.max is None or self.max > MAX_DURATION):
            return ctx.error(node, path, f"must be at most {format_duration(MAX_DURATION)} "
                             f"(10 years), got {_shown(value)}")
        if seconds < 0 and self.min is None:
            return ctx.error(node, path, f"must not be negative, got {value}")
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
    def __init__(self, description: str = "", *, schemes: tuple[str, ...] = ("http", "https"),
                 default: Any = INVALID) -> None:
        super().__init__(description, default=default)
        self.schemes = schemes

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        try:
            parts = urlsplit(text)
            port = parts.port
            host = parts.hostname  # a property that parses again: read once
        except ValueError:
            parts, port, host = None, -1, None
        secret = text != str(value)
        if (parts is None or parts.scheme not in self.schemes or not host
                or not (port is None or 0 < port < 65536)):
            want = " or ".join(f"{s}://" for s in self.schemes)
            shown = "a URL from the environment" if secret else repr(value)
            return ctx.error(node, path,
                             f"expected a URL starting with {want} and a host, got {shown}")
        if check_host(host, node, path, ctx, secret=secret) is INVALID:
            return INVALID
        return text

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "string", "format": "uri"})


class HostName(Str):
    """A host name or IP address that resolves as written (see monitor.config.hostnames)."""

    def __init__(self, description: str = "", *, default: Any = INVALID) -> None:
        super().__init__(description, default=default, pattern=r"[^\s/]+",
                         hint="a host name or IP address (no scheme, no path)")

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        secret = text is not INVALID and text != str(value)
        return check_host(text, node, path, ctx, secret=secret)


CRON_LOOKAHEAD = 5  # fire times that must exist for a schedule to count as one


def cron_problem(text: str) -> str | None:
    """Why `text` is no usable cron schedule, or None. A valid expression may still name
    a day that never comes ("0 2 31 4 *", 31 April): croniter raises at run time, so the
    next few fire times must exist now."""
    if not croniter.is_valid(text):
        return f"expected a cron expression like '0 2 * * *', got {text!r}"
    try:
        it = croniter(text, dt.datetime.now(dt.UTC))
        for _ in range(CRON_LOOKAHEAD):
            it.get_next(dt.datetime)
    except (ValueError, OverflowError, KeyError, IndexError, TypeError):  # CroniterError too
        return (f"cron expression {text!r} never fires (a day that does not exist, "
                "like 31 April or 30 February?)")
    return None


class Cron(Str):
    """A cron expression (croniter's syntax) that fires, read without ${VAR}."""

    def __init__(self, description: str = "", *, default: Any = INVALID) -> None:
        super().__init__(description, default=default, env=False)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        problem = cron_problem(text) if text is not INVALID else None
        return ctx.error(node, path, problem) if problem else text


class StoreUrl(Str):
    """`sqlite` or `postgresql://USER[:${PASSWORD}]@HOST[:PORT]/DATABASE[?options]`. A
    password must come from the environment (`${VAR}`): checks.yaml holds no secrets, and
    no message quotes the substituted URL."""

    def __init__(self, description: str = "", *, default: Any = INVALID) -> None:
        super().__init__(description, default=default)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        written = str(value) if isinstance(value, str) else None
        if written is not None and written.strip().lower() == "sqlite":
            return "sqlite"
        shown = _masked(written) if written is not None else describe(node)
        if written is None or not written.startswith(("postgresql://", "postgres://")):
            return ctx.error(node, path, "expected sqlite or a URL like "
                             "postgresql://siaga:${PG_PASSWORD}@db.example:5432/siaga, "
                             f"got {shown}")
        literal = _password(written)
        if literal is not None and "${" not in literal:
            return ctx.error(node, path, "the password must come from the environment: "
                             "write postgresql://USER:${PG_PASSWORD}@HOST/DB, not the "
                             "password itself")
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        problem = _store_url_problem(text)
        if problem:
            return ctx.error(node, path, f"{problem}, got {shown}")
        if importlib.util.find_spec("psycopg") is None:
            return ctx.error(node, path, "a postgresql:// store needs psycopg: "
                             "pip install 'siaga[postgresql]'")
        return text


def _password(url: str) -> str | None:
    userinfo, at, _ = url.partition("://")[2].partition("/")[0].rpartition("@")
    return userinfo.partition(":")[2] if at and ":" in userinfo else None


def _masked(url: str) -> str:
    """The URL as written, its password (if literal) as ***."""
    literal = _password(url)
    if literal and "${" not in literal:
        url = url.replace(f":{literal}@", ":***@", 1)
    return repr(url)


def _store_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "expected a URL postgresql://USER@HOST:PORT/DATABASE with a port 1–65535"
    if not parts.hostname:
        return "expected a host in postgresql://USER@HOST:PORT/DATABASE"
    if port == 0:
        return "expected a port 1–65535"
    if not parts.path.strip("/"):
        return "expected a database name: postgresql://USER@HOST:PORT/DATABASE"
    if not parts.username:
        return "expected a user name: postgresql://USER@HOST:PORT/DATABASE"
    return None
