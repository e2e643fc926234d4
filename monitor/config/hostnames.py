"""Host names as the probes will hand them to the resolver, and the field that validates them.

`ascii_host` is shared by `validate` and the probes, so a name the config accepts is exactly
the name resolved: an IP literal as written, or labels of letters, digits, '-' and '_' (1–63
octets each, 253 in all), with international labels encoded by IDNA 2008 (UTS 46 mapping,
through the `idna` package). Python's own "idna" codec speaks IDNA 2003 and raises
UnicodeError from deep inside getaddrinfo for "db..internal" or a 64-octet label; that must
never reach a probe.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

import idna
from yaml.nodes import Node

from monitor.config.schema import INVALID, Ctx

MAX_LABEL = 63
MAX_NAME = 253
_ASCII_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ascii_host(host: str) -> str:
    """The name to resolve (IPv6 brackets removed, labels in ASCII); ValueError says why not."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if is_ip(bare):
        return bare
    name = bare[:-1] if bare.endswith(".") else bare  # a fully qualified name's root dot
    if not name:
        raise ValueError("empty host name")
    labels = [_ascii_label(label) for label in name.split(".")]
    encoded = ".".join(labels)
    if len(encoded) > MAX_NAME:
        raise ValueError(f"longer than {MAX_NAME} characters")
    return encoded + ("." if bare.endswith(".") else "")


def _ascii_label(label: str) -> str:
    if not label:
        raise ValueError("empty label (two dots in a row, or a dot at the start)")
    if label.isascii():
        encoded = label
        if not _ASCII_LABEL.fullmatch(label):
            raise ValueError(f"label {_short(label)} may hold only letters, digits, '-' and "
                             "'_', and may not start or end with '-'")
    else:
        try:
            encoded = idna.encode(label, uts46=True).decode("ascii")
        except UnicodeError as exc:  # idna.IDNAError is one
            raise ValueError(f"label {_short(label)} is no valid international name "
                             f"(IDNA 2008): {exc}") from None
        if "." in encoded:  # UTS 46 maps full stops like U+3002 to '.'
            raise ValueError(f"label {_short(label)} holds a full stop")
    if len(encoded) > MAX_LABEL:
        raise ValueError(f"label {_short(label)} is longer than {MAX_LABEL} characters")
    return encoded


def _short(label: str) -> str:
    return repr(label) if len(label) <= 24 else repr(label[:20] + "…")


@functools.lru_cache(maxsize=4096)
def host_problem(host: str) -> str | None:
    """Why `host` cannot be resolved as written, or None. Remembered: checks share hosts,
    and an IP literal took ~6 µs to parse (0.13 s of loading 20,000 checks)."""
    try:
        ascii_host(host)
    except ValueError as exc:
        return f"invalid host name {_short(host)}: {exc}"
    return None


def check_host(text: Any, node: Node, path: str, ctx: Ctx, *, secret: bool = False) -> Any:
    """`text` when it is a usable host; else the problem, recorded (without the value when
    it came from the environment)."""
    if text is INVALID:
        return INVALID
    problem = host_problem(str(text))
    if problem is None:
        return text
    if secret:
        problem = "invalid host name (from the environment)"
    return ctx.error(node, path, problem)
