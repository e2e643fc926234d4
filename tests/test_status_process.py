"""Issue 19, the status page under a surge: with `siaga.status_listen` the public page is
served by a process of its own (monitor.web.status_server), so citizens' requests are never
parsed on the probing loop. What a user sees: the page on its own port, following the
services' state and config edits, back after its process dies, gone when Siaga stops."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.errors import ConfigError
from tests.daemons import start, until
from tests.targets import Targets

ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, url: str, title: str = "Layanan Perizinan") -> str:
    return (f'siaga: {{listen: "127.0.0.1:0", status_listen: "127.0.0.1:0", '
            f'state_dir: "{tmp_path / "state"}"}}\n'
            "defaults: {interval: 1s, timeout: 1s}\n"
            "checks:\n"
            f'  - {{name: izin, title: "{title}", public: true, http: {{url: "{url}"}}}}\n'
            f'  - {{name: internal-db, http: {{url: "{url}"}}}}\n')


@pytest.fixture
async def targets():
    t = Targets()
    runner = await t.start()
    yield t
    await runner.cleanup()


async def fetch(url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with (aiohttp.ClientSession(auto_decompress=False) as session,
                session.get(url, headers=headers, allow_redirects=False) as resp):
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def state_of(base: str, title: str) -> str | None:
    status, _, body = await fetch(f"{base}/status.json", **{"Accept-Encoding": "identity"})
    if status != 200:
        return None
    for group in json.loads(body)["groups"]:
        for service in group["services"]:
            if service["title"] == title:
                return str(service["state"])
    return None


async def wait_state(base: str, title: str, want: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    seen = None
    while time.monotonic() < end:
        seen = await state_of(base, title)
        if seen == want:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{title} shows {seen!r}, not {want!r}, after {timeout}s")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(
        f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]


@pytest.mark.slow
async def test_page_on_its_own_port_follows_the_services(tmp_path, targets):
    daemon = await start(tmp_path, config(tmp_path, targets.url("izin")))
    try:
        process = daemon.status_process
        assert process is not None and process.pid != os.getpid()
        base = f"http://127.0.0.1:{process.port}"
        await wait_state(base, "Layanan Perizinan", "up", 10)

        status, headers, body = await fetch(f"{base}/status", **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        page = gzip.decompress(body).decode()
        assert "Layanan Perizinan" in page and "internal-db" not in page
        assert headers["Cache-Control"] == "public, max-age=5"
        # No script, nothing loaded from elsewhere: an injected tag could do nothing.
        assert headers["Content-Security-Policy"].startswith("default-src 'none';")
        assert headers["X-Content-Type-Options"] == "nosniff"
        again = await fetch(f"{base}/status", **{"Accept-Encoding": "gzip",
                                                 "If-None-Match": headers["ETag"]})
        assert again[0] == 304 and again[2] == b""
        english = (await fetch(f"{base}/status?lang=en", **{"Accept-Encoding": "identity"}))[2]
        assert b'lang="en"' in english
        feed = await fetch(f"{base}/status/feed.atom")
        assert feed[0] == 200 and feed[1]["Content-Type"].startswith("application/atom+xml")
        assert (await fetch(f"{base}/"))[1]["Location"] == "/status"
        # Nothing but the public page lives there: no API, metrics or health.
        for path in ("/metrics", "/api/v1/checks", "/healthz", "/dashboard"):
            assert (await fetch(base + path))[0] == 404, path

        targets.status["izin"] = 500  # the service fails: citizens see it on that port
        await wait_state(base, "Layanan Perizinan", "down", 15)
        targets.status["izin"] = 200
        await wait_state(base, "Layanan Perizinan", "up", 15)
    finally:
        await daemon.stop()


@pytest.mark.slow
async def test_edit_reaches_the_page_and_killed_process_comes_back(tmp_path, targets,
                                                                   monkeypatch):
    monkeypatch.setenv("SIAGA_TELEGRAM_TOKEN", "123456:secret-bot-token")
    daemon = await start(tmp_path, config(tmp_path, targets.url("izin")))
    try:
        process = daemon.status_process
        assert process is not None
        base = f"http://127.0.0.1:{process.port}"
        await wait_state(base, "Layanan Perizinan", "up", 10)

        # An operator renames the service: the page on the status port follows the reload.
        path = tmp_path / "checks.yaml"
        path.write_text(config(tmp_path, targets.url("izin"), title="Perizinan Online"))
        await until(lambda: daemon.config.checks[0].title == "Perizinan Online", 10,
                    "the edit is applied")
        await wait_state(base, "Perizinan Online", "up", 10)

        first = process.pid
        assert first is not None
        # The public page's process sees none of the daemon's secrets.
        environ = Path(f"/proc/{first}/environ").read_bytes()
        assert b"secret-bot-token" not in environ and b"PYTHONPATH=" in environ
        os.kill(first, signal.SIGKILL)  # the page's process dies (OOM killer, a bug)
        await until(lambda: process.pid not in (None, first), 10, "a new status process")
        await wait_state(f"http://127.0.0.1:{process.port}", "Perizinan Online", "up", 10)
        assert process.restarts == 1

        # Probing and paging went on meanwhile: the check keeps recording.
        runtime = daemon.engine.runtime["izin"]
        seen = runtime.probes
        await until(lambda: runtime.probes > seen, 5, "izin is still probed")
        second = process.pid
    finally:
        await daemon.stop()
    assert second is not None and not alive(second), "stopping Siaga stops the page's process"


def test_port_in_use_is_one_clear_line(tmp_path, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    path = tmp_path / "checks.yaml"
    path.write_text(f'siaga: {{listen: "127.0.0.1:0", status_listen: "127.0.0.1:{port}", '
                    f'state_dir: "{tmp_path / "state"}"}}\n'
                    "checks:\n  - {name: a, public: true, tcp: {host: 127.0.0.1, port: 9}}\n")
    try:
        assert main(["run", "-c", str(path)]) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert f"siaga.status_listen 127.0.0.1:{port}" in err and "in use" in err
    assert "Traceback" not in err


def test_daemon_killed_takes_the_page_process_with_it(tmp_path):
    """SIGKILL gives the daemon no chance to stop its child: the child sees its pipe close."""
    path = tmp_path / "checks.yaml"
    path.write_text(config(tmp_path, "http://127.0.0.1:9/"))
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(path)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        child = None
        end = time.monotonic() + 20
        while child is None and time.monotonic() < end:
            kids = Path(f"/proc/{daemon.pid}/task/{daemon.pid}/children").read_text().split()
            child = int(kids[0]) if kids else None
            time.sleep(0.1)
        assert child is not None, "status process not started"
        daemon.kill()
        daemon.wait(10)
        end = time.monotonic() + 10
        while alive(child) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive(child), "the status process outlived a killed daemon"
    finally:
        if daemon.poll() is None:
            daemon.kill()
        assert daemon.stderr is not None
        daemon.stderr.close()


@pytest.mark.parametrize("value, message", [
    ('"127.0.0.1:70000"', "port must be 1–65535"),
    ('"127.0.0.1:9477"', "must differ from siaga.listen"),
    ('"status"', "HOST:PORT"),
])
def test_bad_status_listen_names_the_key(tmp_path, value, message):
    text = (f'siaga: {{listen: "127.0.0.1:9477", status_listen: {value}}}\n'
            "checks:\n  - {name: a, tcp: {host: 127.0.0.1, port: 9}}\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(tmp_path / "checks.yaml"))
    problems = [str(p) for p in caught.value.problems]
    assert any("status_listen" in p and message in p for p in problems), problems


def stop_and_flood(daemon, process) -> int:
    """Stop the child (SIGSTOP: it reads nothing) and publish twice the backlog's worth of
    builds; the size of one build's frame."""
    from monitor.web import status_server

    os.kill(process.pid, signal.SIGSTOP)
    assert daemon.status_pages.bodies
    frame = len(status_server.encode(daemon.status_pages.bodies, "id"))
    for _ in range(2 * status_server.BACKLOG // frame):
        process.publish(daemon.status_pages.bodies, "id")
    return frame


@pytest.mark.slow
async def test_a_stuck_page_process_does_not_grow_the_daemon(tmp_path, targets):
    """A child that stops reading its pipe (SIGSTOP here) gets no more builds queued than
    the backlog; once it runs again it serves a current page."""
    from monitor.web import status_server

    daemon = await start(tmp_path, config(tmp_path, targets.url("izin")))
    process = daemon.status_process
    assert process is not None and process.pid is not None
    try:
        base = f"http://127.0.0.1:{process.port}"
        await wait_state(base, "Layanan Perizinan", "up", 10)
        frame = stop_and_flood(daemon, process)
        assert process.skipped > 0
        proc = process._proc
        assert proc is not None and proc.stdin is not None
        queued = proc.stdin.transport.get_write_buffer_size()
        assert queued <= status_server.BACKLOG + frame
        os.kill(process.pid, signal.SIGCONT)
        targets.status["izin"] = 500
        await wait_state(base, "Layanan Perizinan", "down", 20)
    finally:
        await daemon.stop()


def status_child(pid: int, other_than: int | None = None) -> int | None:
    """The daemon's status page process (not a helper some library spawns at import)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return None
    for kid in map(int, kids):
        with contextlib.suppress(OSError):
            if (b"status_server" in Path(f"/proc/{kid}/cmdline").read_bytes()
                    and kid != other_than):
                return kid
    return None


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"not reached within {timeout}s: {what}"
        time.sleep(0.002)


def spawn_daemon(path: Path) -> subprocess.Popen[bytes]:
    """`siaga run` as in a terminal: its own process group, which Ctrl-C signals as a whole."""
    return subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def test_ctrl_c_while_the_page_process_starts_is_a_clean_stop(tmp_path):
    """Ctrl-C signals the terminal's whole process group. A child that is still importing
    must not get it: it printed a KeyboardInterrupt traceback and `siaga run` exited 2 with
    "status page server ... cannot start: exited with code -2"."""
    path = tmp_path / "checks.yaml"
    path.write_text(config(tmp_path, "http://127.0.0.1:9/"))
    daemon = spawn_daemon(path)
    try:
        wait_for(lambda: status_child(daemon.pid), 20, "status process spawned")
        os.killpg(daemon.pid, signal.SIGINT)  # at once: the child is still starting
        _, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    text = err.decode(errors="replace")
    assert daemon.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text


async def test_stopping_while_a_replacement_starts_leaves_no_process():
    """Siaga stopped (systemd, Ctrl-C) while a replacement child was starting: `run()` was
    cancelled in `start()`, which walked away from the child it had spawned; `stop()` saw no
    process and returned while that child lived on (until the daemon's exit closed its pipe,
    when it died on a BrokenPipeError traceback announcing its port)."""
    from monitor.web.status_server import StatusProcess

    process = StatusProcess("127.0.0.1", 0)
    await process.start()
    runner = asyncio.create_task(process.run())
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while (second := status_child(os.getpid(), first)) is None:
        assert loop.time() < end, "no replacement spawned"
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.05)  # spawned: start() waits for its `listening` line
    assert alive(second)
    runner.cancel()  # the daemon's stop() cancels its tasks first...
    await asyncio.gather(runner, return_exceptions=True)
    await process.stop()  # ...then stops the status process
    assert not alive(second), "the replacement outlived stop()"


def test_a_child_whose_daemon_is_gone_exits_without_a_traceback():
    """The daemon died before the child said on which port it listens: the child's stdout
    is a broken pipe. It exits quietly instead of printing a BrokenPipeError traceback."""
    child = subprocess.Popen([sys.executable, "-m", "monitor.web.status_server", "127.0.0.1",
                              "0"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stdin is not None and child.stderr is not None
    child.stdout.close()  # nobody reads what it says
    try:
        child.stdin.close()  # and its daemon is gone
        err = child.stderr.read().decode(errors="replace")
        child.wait(20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert "Traceback" not in err and "Exception ignored" not in err, err


async def test_the_page_process_never_imports_from_the_working_directory(
        tmp_path, monkeypatch):
    """`python -m` puts the working directory first on sys.path: started from a directory
    holding a `monitor` package (another Siaga checkout, a writable directory), the child
    ran that code instead of the daemon's."""
    from monitor.web.status_server import StatusProcess

    rogue = tmp_path / "monitor" / "web"
    rogue.mkdir(parents=True)
    (tmp_path / "monitor" / "__init__.py").write_text("")
    (rogue / "__init__.py").write_text("")
    (rogue / "status_server.py").write_text('print("error rogue code ran", flush=True)\n')
    monkeypatch.chdir(tmp_path)
    process = StatusProcess("127.0.0.1", 0)
    await process.start()
    try:
        assert process.pid is not None and process.port > 0
    finally:
        await process.stop()


@pytest.mark.slow
async def test_a_build_skipped_while_the_process_was_stuck_reaches_it_once_it_reads(
        tmp_path, targets):
    """Builds that find the pipe backlog full are skipped; the latest one must still reach
    the child when it reads again, not wait for the next change or the 60 s refresh (the
    last transition of a storm is the one citizens need to see)."""

    daemon = await start(tmp_path, config(tmp_path, targets.url("izin")))
    process = daemon.status_process
    assert process is not None and process.pid is not None
    try:
        base = f"http://127.0.0.1:{process.port}"
        await wait_state(base, "Layanan Perizinan", "up", 10)
        stop_and_flood(daemon, process)
        skipped = process.skipped
        builds = daemon.status_pages.builds
        targets.status["izin"] = 500  # goes down while the child cannot read
        await wait_state(f"http://127.0.0.1:{daemon.server.port}", "Layanan Perizinan",
                         "down", 15)  # the daemon's own listener has the new build
        await until(lambda: process.skipped > skipped, 5, "the down build was skipped")
        later = daemon.status_pages.builds
        os.kill(process.pid, signal.SIGCONT)
        await wait_state(base, "Layanan Perizinan", "down", 10)
        assert later > builds
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
        await daemon.stop()
