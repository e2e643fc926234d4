"""Resolving a host and connecting to it the way browsers do: every address, IPv6 and IPv4
interleaved, Happy Eyeballs (RFC 8305: the next attempt starts 250 ms after the previous one
or as soon as it fails), each attempt with its own deadline, and a reason naming every
address tried when none accepts ("connect: 2001:db8::1 timed out, 192.0.2.1 refused").

asyncio's `create_connection(happy_eyeballs_delay=…)` does the racing but has no per-attempt
deadline and reports a failure as one `OSError` naming a single address; a probe's reason
must say what happened to each.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from monitor.probes.tcp import os_error_text

ATTEMPT_DELAY = 0.25  # RFC 8305's recommended Connection Attempt Delay
Address = tuple[int, Any]  # (family, sockaddr as getaddrinfo gives it)


class DialError(Exception):
    """No address accepted; the message is the reason."""


async def resolve(
    loop: asyncio.AbstractEventLoop, host: str, port: int, literal: bool
) -> list[Address]:
    """The addresses of `host`, IPv6 and IPv4 interleaved (RFC 8305 §4). A literal is not
    looked up; an IPv6 literal goes through getaddrinfo(NUMERICHOST) to keep its scope id."""
    if literal and ":" not in host:
        return [(socket.AF_INET, (host, port))]
    try:
        if literal:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICHOST)
        else:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DialError(_resolve_reason(exc, host)) from None
    except UnicodeError:
        raise DialError(f"resolve: bad host name ({host})") from None
    return interleave([(family, address) for family, _, _, _, address in infos])


def interleave(addresses: list[Address]) -> list[Address]:
    """Alternate families, starting with the resolver's first choice; duplicates dropped."""
    seen: set[Any] = set()
    unique = [a for a in addresses if not (a[1] in seen or seen.add(a[1]))]  # type: ignore[func-returns-value]
    if not unique:
        return unique
    first = unique[0][0]
    ours = [a for a in unique if a[0] == first]
    others = [a for a in unique if a[0] != first]
    mixed: list[Address] = []
    for i in range(max(len(ours), len(others))):
        mixed.extend(pair[i] for pair in (ours, others) if i < len(pair))
    return mixed


def _resolve_reason(exc: socket.gaierror, host: str) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return f"resolve: name not found ({host})"
    if exc.errno == socket.EAI_AGAIN:
        return f"resolve: temporary failure, try again ({host})"
    return f"resolve: {os_error_text(exc)} ({host})"


def shown_address(address: Address) -> str:
    """An address for a reason: the IP, with its IPv6 scope id when it has one."""
    family, sockaddr = address
    host = str(sockaddr[0])
    if family == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3] and "%" not in host:
        host = f"{host}%{sockaddr[3]}"
    return host


async def dial(
    loop: asyncio.AbstractEventLoop,
    addresses: list[Address],
    attempt_timeout: float | None,
    delay: float = ATTEMPT_DELAY,
) -> socket.socket:
    """A connected non-blocking socket to the first address that accepts; DialError when
    every attempt failed or ran out of its own `attempt_timeout` (which only applies when
    there are several: one address has the caller's whole deadline)."""
    if len(addresses) == 1:  # the common case: no race, no tasks, the probe's own deadline
        try:
            return await _attempt(loop, addresses[0], None)
        except _AttemptTimeout:
            raise DialError("connect: timed out") from None
        except OSError as exc:
            raise DialError(f"connect: {os_error_text(exc)}") from None
    return await _race(loop, addresses, attempt_timeout, delay)


async def _race(
    loop: asyncio.AbstractEventLoop,
    addresses: list[Address],
    attempt_timeout: float | None,
    delay: float,
) -> socket.socket:
    finished = asyncio.Event()
    tasks: list[asyncio.Task[socket.socket]] = []
    winner: socket.socket | None = None
    try:
        for i, address in enumerate(addresses):
            task = loop.create_task(_attempt(loop, address, attempt_timeout))
            task.add_done_callback(lambda _t: finished.set())
            tasks.append(task)
            last = i + 1 == len(addresses)
            winner = await _wait_step(tasks, finished, None if last else delay)
            while winner is None and last and not all(t.done() for t in tasks):
                winner = await _wait_step(tasks, finished, None)
            if winner is not None:
                return winner
    finally:
        await _settle(tasks, winner)
    parts = [f"{shown_address(a)} {_outcome(t)}" for a, t in zip(addresses, tasks, strict=True)]
    raise DialError("connect: " + ", ".join(parts))


async def _settle(tasks: list[asyncio.Task[socket.socket]], winner: socket.socket | None) -> None:
    """Cancel the attempts still running and close every socket but the winner's."""
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for got in results:
        if isinstance(got, socket.socket) and got is not winner:
            got.close()


def _outcome(task: asyncio.Task[socket.socket]) -> str:
    exc = None if task.cancelled() else task.exception()
    return _failure_text(exc) if isinstance(exc, OSError) else "failed"


async def _wait_step(
    tasks: list[asyncio.Task[socket.socket]], failed: asyncio.Event, delay: float | None
) -> socket.socket | None:
    """Wait until an attempt finishes or `delay` passes; the winner's socket, if any."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
    if all(t.done() for t in tasks):
        return None
    failed.clear()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await failed.wait()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
    return None


async def _attempt(
    loop: asyncio.AbstractEventLoop, address: Address, timeout: float | None
) -> socket.socket:
    family, sockaddr = address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, sockaddr)
    except TimeoutError:
        sock.close()
        raise _AttemptTimeout() from None
    except BaseException:
        sock.close()
        raise
    return sock


class _AttemptTimeout(OSError):
    pass


def _failure_text(exc: OSError) -> str:
    if isinstance(exc, _AttemptTimeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return os_error_text(exc)
