"""A second host on this machine for fleet tests: a network namespace joined to this one by
a veth pair (iproute2), so a test can cut that host off by taking its link down. Nothing
leaves the machine: every address here exists only on it. What the host must reach
(PostgreSQL, the test's targets, all on 127.0.0.1) it reaches through relays on a service
address on this side's loopback interface, which this side's own processes reach too (so a
check's URL is the same for every instance, wherever it runs)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess

import pytest

_numbers = itertools.count(1)


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {done.stderr.strip()}")


class Host:
    """`ip netns` host `name` at `address`; this side of its link is `gateway`."""

    def __init__(self) -> None:
        n = (os.getpid() % 200) * 8 + next(_numbers) % 8  # a /30 per host, per test run
        self.name = f"siaga-t{os.getpid()}-{n}"
        self.outer, self.inner = f"st{n}a", f"st{n}b"
        self.gateway = f"10.231.{n // 64}.{(n % 64) * 4 + 1}"
        self.address = f"10.231.{n // 64}.{(n % 64) * 4 + 2}"
        self.service = f"10.232.{n // 250}.{n % 250 + 1}"  # on this side's lo: always up
        self._relays: list[asyncio.Server] = []
        self._pipes: set[asyncio.Task[None]] = set()

    def create(self) -> Host:
        if shutil.which("ip") is None:
            pytest.fail("`ip` (Debian's iproute2) is needed for the network-namespace tests: "
                        "apt-get install iproute2 (.ci/run does it)", pytrace=False)
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.name)
            _ip("addr", "add", f"{self.gateway}/30", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            self.inside("ip", "addr", "add", f"{self.address}/30", "dev", self.inner)
            self.inside("ip", "link", "set", self.inner, "up")
            self.inside("ip", "link", "set", "lo", "up")
            self.inside("ip", "route", "add", "default", "via", self.gateway)
            _ip("addr", "add", f"{self.service}/32", "dev", "lo")
        except RuntimeError as exc:
            self.destroy()
            pytest.fail(f"cannot make a network namespace (root and iproute2 needed): {exc}",
                        pytrace=False)
        return self

    def inside(self, *argv: str) -> None:
        _ip("netns", "exec", self.name, *argv)

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside the host."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Take the host's link down: it reaches nothing, nothing reaches it."""
        self.inside("ip", "link", "set", self.inner, "down")

    def mend(self) -> None:
        self.inside("ip", "link", "set", self.inner, "up")
        self.inside("ip", "route", "replace", "default", "via", self.gateway)

    async def relay(self, port: int) -> int:
        """Make 127.0.0.1:`port` reachable at service:returned port, from the host too."""
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            for task in (asyncio.create_task(pipe(reader, up_writer)),
                         asyncio.create_task(pipe(up_reader, writer))):
                self._pipes.add(task)
                task.add_done_callback(self._pipes.discard)

        server = await asyncio.start_server(serve, self.service, 0)
        self._relays.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close_relays(self) -> None:
        for server in self._relays:
            server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for server in self._relays:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def destroy(self) -> None:
        for argv in (["link", "del", self.outer], ["addr", "del", f"{self.service}/32", "dev",
                                                   "lo"], ["netns", "del", self.name]):
            with contextlib.suppress(RuntimeError):
                _ip(*argv)
