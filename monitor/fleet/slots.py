"""Who probes what in a fleet, and how long a lease lasts: pure functions."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/3"` → (2, 3): the second of three shards. ValueError says what is wrong."""
    m = SHARD.match(text)
    if not m:
        raise ValueError(f"expected I/N like 1/3, got {text!r}")
    i, n = int(m[1]), int(m[2])
    if not 1 <= i <= n:
        raise ValueError(f"shard {i} of {n}: I must be 1 to N")
    return i, n


def numbered_shard(instance: str, shards: int) -> str:
    """`siaga.shards: N`: the shard of an instance named `siaga-2` is "2/N"."""
    m = re.search(r"(\d+)$", instance)
    if m is None or not 1 <= int(m[1]) <= shards:
        raise ValueError(f"with shards: {shards}, the instance name must end in its number "
                         f"1–{shards} (like siaga-1); {instance!r} does not")
    return f"{int(m[1])}/{shards}"


def owner(check_name: str, slots: Sequence[str]) -> str:
    """The slot that probes `check_name` (rendezvous hashing: stable, and removing a slot
    moves only the checks it had)."""
    def weight(slot: str) -> bytes:
        return hashlib.blake2b(f"{slot}\0{check_name}".encode(), digest_size=8).digest()
    return max(slots, key=weight)


def timings(lease_timeout: float) -> tuple[float, float]:
    """(renew every, hold for): a holder dying just after renewing is replaced within
    hold + renew ≤ lease_timeout."""
    return lease_timeout / 5, lease_timeout * 3 / 5
