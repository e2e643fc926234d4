"""`siaga run` on a big file it has never seen (no compiled-config cache entry): the checks
due first are probed while the rest of the file is validated (monitor.checking.preview,
monitor.checking.early), and once the file is valid every probe made counts exactly once;
an invalid file still stops the start, with nothing recorded."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from monitor.checking.preview import PREVIEW_FROM

N = PREVIEW_FROM + 3_000  # probing at the default 30 s: ~170 probes a second
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class CountingServer:
    """Answers 200 to any path; counts the requests of each path and notes when."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.last: dict[str, float] = {}
        self.first: dict[str, float] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            path = line.split()[1].decode() if len(line.split()) > 1 else "?"
            while (await reader.readline()).strip():
                pass
            self.hits[path] += 1
            self.first.setdefault(path, time.monotonic())
            self.last[path] = time.monotonic()
            writer.write(REPLY)
            await writer.drain()
        finally:
            writer.close()


def config(tmp_path: Path, port: int, broken: bool = False) -> Path:
    lines = [f"siaga:\n  listen: 127.0.0.1:0\n  state_dir: {tmp_path / 'state'}\n"
             "  language: en\nchecks:\n"]
    for i in range(N):
        url = f"http://127.0.0.1:{port}/p/{i}"
        if broken and i == N - 1:
            url = "http://127.0.0.1:99999/p/last"  # the last item: validated last
        lines.append(f"  - name: svc-{i:05d}\n    title: Layanan {i}\n"
                     f"    http:\n      url: {url}\n")
    path = tmp_path / "checks.yaml"
    path.write_text("".join(lines))
    return path


async def siaga_run(path: Path, tmp_path: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "SIAGA_API_TOKEN": "test-token"}
    env.pop("CACHE_DIRECTORY", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "-c", str(path), "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)


async def started_against(tmp_path: Path, server: CountingServer, broken: bool = False
                          ) -> tuple[asyncio.Server, asyncio.subprocess.Process]:
    """`server` listening, and `siaga run` started on a file of checks against it."""
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=1024)
    port = listener.sockets[0].getsockname()[1]
    return listener, await siaga_run(config(tmp_path, port, broken), tmp_path)


async def first_hit(server: CountingServer) -> None:
    """Until a probe (an early one: the file is still being validated) reaches a target."""
    async with asyncio.timeout(30):
        while not server.hits:
            await asyncio.sleep(0.005)


async def read_until(proc: asyncio.subprocess.Process, marker: str, seen: list[str],
                     timeout: float = 60) -> str:
    assert proc.stderr is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, "siaga stopped:\n" + "".join(seen[-30:])
            seen.append(line)
            if marker in line:
                return line


def api_port(started: str) -> int:
    """The daemon's port, from its `event=started` line."""
    found = re.search(r"listen=127\.0\.0\.1:(\d+)", started)
    assert found, started
    return int(found.group(1))


async def stopped(proc: asyncio.subprocess.Process, listener: asyncio.Server) -> int:
    """SIGTERM to a daemon still running; its exit code."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(proc.wait(), 20)
    listener.close()
    return code


async def probes_by_check(port: int) -> dict[str, int]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    counts: Counter[str] = Counter()
    for m in re.finditer(r'^siaga_probes_total\{[^}]*check="([^"]+)"[^}]*\} (\S+)$', text,
                         re.M):
        counts[m.group(1)] += int(float(m.group(2)))
    return counts


async def test_a_big_new_file_is_probed_before_it_is_validated_and_each_probe_counts_once(
        tmp_path):
    server = CountingServer()
    listener, proc = await started_against(tmp_path, server)
    log: list[str] = []
    try:
        early = await read_until(proc, "event=early_probes_recorded", log)
        held = int(re.search(r"results=(\d+)", early).group(1))  # type: ignore[union-attr]
        started = await read_until(proc, "event=started", log)
        started_at = time.monotonic()
        assert f"checks={N}" in started
        api = api_port(started)
        # probing began before the whole file was valid: results held, then recorded
        assert held >= 1, "".join(log)
        assert sum(1 for t in server.first.values() if t < started_at) >= held

        await asyncio.sleep(2.0)
        first = await probes_by_check(api)
        scraped_at = time.monotonic()
        await asyncio.sleep(1.0)
        again = await probes_by_check(api)
        # every probe the targets saw is counted once: the held ones too, none twice
        for i in range(N):
            path, name = f"/p/{i}", f"svc-{i:05d}"
            hits, counted = server.hits[path], first[name]
            if server.last.get(path, 0.0) < scraped_at - 0.5:  # none in flight then
                assert counted <= hits  # (a probe after the scrape adds a hit only)
                assert counted == hits or server.last[path] > scraped_at, (name, hits, counted)
            else:
                assert 0 <= hits - counted <= 2, (name, hits, counted)
        assert sum(first.values()) >= held
        assert sum(again.values()) > sum(first.values())  # and probing goes on
        # first runs spread over the interval as on any start: ~170 a second, not a burst
        assert len(server.hits) < N / 3
    finally:
        code = await stopped(proc, listener)
    assert code == 0, "".join(log[-30:])


async def test_a_big_file_invalid_at_its_end_stops_the_start_with_nothing_recorded(tmp_path):
    server = CountingServer()
    listener, proc = await started_against(tmp_path, server, broken=True)
    try:
        assert proc.stderr is not None
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        listener.close()
    text = err.decode()
    assert proc.returncode == 2, text
    assert f"checks[svc-{N - 1:05d}].http.url" in text and "1 error" in text
    assert "Traceback" not in text
    assert not (tmp_path / "state" / "siaga.db").exists()  # no state, no incident, no page


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def test_ctrl_c_while_the_file_is_validated_stops_at_once_leaving_nothing(tmp_path):
    server = CountingServer()
    listener, proc = await started_against(tmp_path, server)
    try:
        await first_hit(server)
        child = children(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        _, err = await asyncio.wait_for(proc.communicate(), 5)
    finally:
        listener.close()
    text = err.decode()
    assert "event=started" not in text  # it was still loading: what this test is about
    assert proc.returncode == 0 and "Traceback" not in text, text
    assert child and not any(Path(f"/proc/{c}").exists() for c in child)  # the child too
    assert not (tmp_path / "state" / "siaga.db").exists()


async def test_a_reload_asked_while_the_file_is_validated_is_ignored_and_the_start_goes_on(
        tmp_path):
    server = CountingServer()
    listener, proc = await started_against(tmp_path, server)
    log: list[str] = []
    try:
        await first_hit(server)
        proc.send_signal(signal.SIGHUP)  # its default action would end the process
        started = await read_until(proc, "event=started", log)
        api = api_port(started)
        assert any("event=reload_ignored" in line for line in log), "".join(log)
        before = sum((await probes_by_check(api)).values())
        await asyncio.sleep(1.0)
        assert sum((await probes_by_check(api)).values()) > before
    finally:
        code = await stopped(proc, listener)
    assert code == 0
