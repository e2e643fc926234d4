"""Real local receivers for notifications, for any test that needs to see a page arrive.

`SmtpReceiver` is an aiosmtpd server collecting apprise `mailto://` mail; `JsonReceiver` is
an aiohttp server collecting JSON POSTs (apprise `json://`, Alertmanager's API or webhooks).
Both listen on 127.0.0.1 on a free port, run in the test's event loop, and offer
`wait_for(count, timeout)`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class _Inbox:
    """A list that a test can wait on."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float) -> list[Any]:
        """Wait until at least `count` items arrived; fail the test after `timeout` s."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.items) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {count} item(s) within {timeout}s, got {len(self.items)}"
            ) from None
        return list(self.items)


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def _decode(envelope: Envelope) -> Mail:
    raw = envelope.original_content or envelope.content or b""
    if isinstance(raw, str):
        raw = raw.encode()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return Mail(
        mail_from=envelope.mail_from or "",
        rcpt_tos=list(envelope.rcpt_tos),
        subject=str(parsed.get("Subject", "")),
        body=body,
        headers={k: str(v) for k, v in parsed.items()},
    )


class SmtpReceiver:
    """A real SMTP server (aiosmtpd, no TLS, no auth). Recipients in `refuse` get a 550."""

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.refuse: set[str] = set()
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    @property
    def messages(self) -> list[Mail]:
        return self.inbox.items

    async def start(self) -> SmtpReceiver:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="siaga-test.local"), HOST, 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, to: str = "budi@example.test", sender: str = "siaga@example.test") -> str:
        """An apprise mailto:// URL that delivers to this server in plain SMTP."""
        return f"mailto://{HOST}:{self.port}?mode=insecure&from={sender}&to={to}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Mail]:
        return await self.inbox.wait_for(count, timeout)

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.inbox.add(_decode(envelope))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Post:
    """One JSON POST as the HTTP receiver got it."""

    path: str
    json: Any
    headers: dict[str, str]


class JsonReceiver:
    """A real HTTP server that records JSON POSTs on any path.

    Set `fail_with = 500` (or any status) to answer with that status and record nothing
    until it is set back to None; `delay` (seconds) holds every answer back.
    """

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.attempts = 0
        self.fail_with: int | None = None
        self.delay = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def posts(self) -> list[Post]:
        return self.inbox.items

    async def start(self) -> JsonReceiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str = "/hook") -> str:
        """An apprise json:// URL that posts to this receiver."""
        return f"json://{HOST}:{self.port}{path}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Post]:
        return await self.inbox.wait_for(count, timeout)

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            return web.Response(status=self.fail_with, text="failing on purpose")
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        self.inbox.add(Post(request.path, payload, dict(request.headers)))
        return web.json_response({"status": "ok"})
