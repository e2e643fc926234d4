"""The public status page in a process of its own (`siaga.status_listen`), so a citizen surge
never competes with probing.

Inside one process, every request a surge brings is parsed on the probing loop: at ~15,000
requests/s the loop's turns grow and probe timers wait behind them (bench/README.md,
"Status page under a surge"). With `status_listen` set, the daemon starts this module as a
child process at a lower CPU priority (nice 10). The daemon builds the page as before
(monitor.web.status_cache) and sends each new build down the child's stdin; the child only
answers requests from those bytes (`ETag`/`304`, gzip, `Cache-Control`). It knows nothing
else: no store, no config, no token.

Frames on the pipe: 4-byte big-endian length, then a JSON header (its own 4-byte length) and
the bodies' bytes back to back. The child says `listening PORT` (or `error TEXT`) on stdout
once, exits when its stdin closes (the daemon stopped or died), and the daemon restarts it
if it dies on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from monitor.errors import ListenError
from monitor.telemetry.logs import event
from monitor.web.status_cache import Bodies, Body, respond

log = logging.getLogger("siaga.status")
NICE = 10  # the child yields the CPU to probing when both want it
READY_TIMEOUT = 15.0
BACKLOG = 8 * 1024 * 1024  # bytes of builds queued for a child that does not read
_LEN = struct.Struct("!I")


def encode(bodies: Bodies, language: str) -> bytes:
    """One frame: the default language and every body (plain and gzip bytes, strong tag)."""
    items = sorted(bodies.items())
    header = json.dumps({"language": language,
                         "bodies": [[kind, lang, b.etag, len(b.raw), len(b.packed)]
                                    for (kind, lang), b in items]}).encode()
    payload = b"".join([_LEN.pack(len(header)), header,
                        *(part for _, b in items for part in (b.raw, b.packed))])
    return _LEN.pack(len(payload)) + payload


def decode(payload: bytes) -> tuple[Bodies, str]:
    """The bodies of one frame (without its outer length)."""
    (size,) = _LEN.unpack_from(payload)
    header = json.loads(payload[4:4 + size])
    at, bodies = 4 + size, {}
    for kind, lang, etag, raw_len, packed_len in header["bodies"]:
        raw = payload[at:at + raw_len]
        packed = payload[at + raw_len:at + raw_len + packed_len]
        at += raw_len + packed_len
        bodies[kind, lang] = Body(kind, raw, packed, etag)
    return bodies, str(header["language"])


# The child ------------------------------------------------------------------------------


class Pages:
    """What the child serves: the latest frame from the daemon."""

    def __init__(self) -> None:
        self.bodies: Bodies = {}
        self.language = "id"


class Feed(asyncio.Protocol):
    """Reads frames from stdin into `pages`; stdin closing means the daemon is gone."""

    def __init__(self, pages: Pages, gone: asyncio.Event) -> None:
        self.pages, self.gone = pages, gone
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 4:
            (size,) = _LEN.unpack_from(self.buffer)
            if len(self.buffer) < 4 + size:
                return
            payload = bytes(self.buffer[4:4 + size])
            del self.buffer[:4 + size]
            self.pages.bodies, self.pages.language = decode(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone.set()


def child_app(pages: Pages) -> web.Application:
    from monitor.web.status import choose_language  # the same rule as the main listener

    def serving(kind: str) -> Callable[[web.Request], asyncio.Future[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            lang = choose_language(request, pages.language)
            body = pages.bodies.get((kind, lang))
            if body is None:
                raise web.HTTPServiceUnavailable(
                    text="halaman status belum siap / status page not ready yet")
            return respond(request, body, lang)
        return handler  # type: ignore[return-value]

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/status")

    app = web.Application(client_max_size=1024)
    app.router.add_get("/", root)
    app.router.add_get("/status", serving("html"))
    app.router.add_get("/status.json", serving("json"))
    app.router.add_get("/status/feed.atom", serving("atom"))
    return app


async def child_main(host: str, port: int) -> int:
    from monitor.web.app import server_log

    loop = asyncio.get_running_loop()
    pages, gone = Pages(), asyncio.Event()
    await loop.connect_read_pipe(lambda: Feed(pages, gone), sys.stdin)
    runner = web.AppRunner(child_app(pages), access_log=None, handle_signals=False,
                           logger=server_log())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError as exc:
        say(f"error {exc.strerror or exc}")
        return 2
    if not say(f"listening {runner.addresses[0][1]}"):
        await runner.cleanup()
        return 1  # the daemon went away while we started: nobody to serve for
    await gone.wait()
    await runner.cleanup()
    return 0


def say(line: str) -> bool:
    """One line to the daemon; False when it is gone (its end of the pipe closed). Written
    unbuffered, so no flush at exit can fail on the broken pipe again."""
    try:
        os.write(sys.stdout.fileno(), f"{line}\n".encode())
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the daemon, which stops us
    with contextlib.suppress(OSError):
        os.nice(NICE)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host, port = argv[0], int(argv[1])
    try:
        import uvloop
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        return int(runner.run(child_main(host, port)))


# The daemon's side ----------------------------------------------------------------------


class StatusProcess:
    """Starts the child, feeds it every build, restarts it if it dies, stops it with us."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.latest: bytes | None = None
        self.restarts = 0
        self.skipped = 0  # builds not sent because the child had not read the earlier ones
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._catch_up: asyncio.Task[None] | None = None  # the latest build, once it reads

    async def start(self) -> None:
        """Spawn the child and wait until it listens; ListenError when it cannot."""
        # The child imports this package from where the daemon found it (installed or not).
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        # -P: not the working directory first on sys.path, where another `monitor` package
        # (an older checkout, a writable directory) would be imported instead of ours.
        # A session of its own: Ctrl-C in a terminal signals its whole process group, and a
        # child still importing would die of it with a traceback; the daemon stops it.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-P", "-m", "monitor.web.status_server", self.host,
            str(self.port), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=child_environment(path), start_new_session=True)
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                line = (await proc.stdout.readline()).decode(errors="replace").strip()
        except TimeoutError:
            line = "error no answer within 15 s"
        except BaseException:  # cancelled (the daemon stops): the child must not outlive us
            await _kill(proc)
            raise
        word, _, rest = line.partition(" ")
        if word != "listening":
            await _kill(proc)
            reason = rest or f"exited with code {proc.returncode}"
            raise ListenError(f"status page server (siaga.status_listen {self.host}:"
                              f"{self.port}) cannot start: {reason}")
        self.port = int(rest)
        self._proc = proc
        if self.latest is not None:
            self._send(self.latest)

    def publish(self, bodies: Bodies, language: str) -> None:
        """A new build: the child serves it from its next request on."""
        self.latest = encode(bodies, language)
        self._send(self.latest)

    def _send(self, frame: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        if proc.stdin.transport.get_write_buffer_size() > BACKLOG:
            # A child that stopped reading (stopped, stuck) must not grow our memory: it
            # gets the latest build once it reads again, or a restart.
            self.skipped += 1
            if self._catch_up is None or self._catch_up.done():
                self._catch_up = asyncio.get_running_loop().create_task(
                    self._send_latest_once_read(proc), name="status-process-catch-up")
            return
        proc.stdin.write(frame)

    async def _send_latest_once_read(self, proc: asyncio.subprocess.Process) -> None:
        """After skipped builds: the newest one as soon as the child has read the backlog
        (not at the next change, perhaps a minute later)."""
        assert proc.stdin is not None
        try:
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError):  # it died: its successor gets `latest`
            return
        if self._proc is proc and self.latest is not None:
            self._send(self.latest)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def run(self) -> None:
        """Restart the child when it dies on its own: after 1 s, doubling to 30 s while it
        keeps dying within a minute of its start."""
        pause = 1.0
        while not self._stopping:
            if self._proc is None:
                try:
                    await self.start()
                except ListenError as exc:
                    event(log, "status_server_start_failed", logging.ERROR, error=str(exc))
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 30.0)
                    continue
            began = time.monotonic()
            code = await self._proc.wait()  # type: ignore[union-attr]
            if self._stopping:
                return
            self._proc, self.restarts = None, self.restarts + 1
            if time.monotonic() - began > 60:  # it had been serving: start afresh at 1 s
                pause = 1.0
            event(log, "status_server_exited", logging.WARNING, code=code,
                  action=f"restarting in {pause:g}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._catch_up is not None:
            self._catch_up.cancel()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            await _kill(proc)


# What the child may see of the daemon's environment: enough to run Python, nothing else
# (the daemon's holds bot tokens, SMTP passwords and ${VAR} secrets of checks.yaml).
CHILD_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")


def child_environment(python_path: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in CHILD_ENVIRONMENT if k in os.environ}
    env["PYTHONPATH"] = python_path
    return env


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
