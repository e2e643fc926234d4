"""The HTTP probe's response parser fed random bytes and mutated responses: it never raises,
always ends with a response or a reason, and through a real socket the probe returns a
result without asyncio logging "Fatal error on transport" (the autouse fixture watches)."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.probes.base import PHASES, ProbeContext
from monitor.probes.http.probe import HttpSpec, parse_url, run
from monitor.probes.http.wire import Exchange, ResponseParser, Trace

VALID = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.0 503 Busy\r\nX-A: 1\r\n folded\r\n\r\nbody until close",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",  # bare LF
    # "hello" gzipped, then zlib-deflated; the strategy mutates them into broken codings
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 25\r\n\r\n"
    + gzip.compress(b"hello", mtime=0),
    b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + zlib.compress(b"hello"),
]
# Odd pieces a broken or hostile server sends, spliced into valid responses.
ODD = [b"\xb2", b"\xb9", b"\xbd", b"\x00", b"\xff", b"\r\n", b"\n", b"\r", b":", b";", b" ",
       b",", b"-1", b"0x1", b"1_0", b"9" * 30, b"Content-Length: ", b"Transfer-Encoding: ",
       b"chunked", b"HTTP/1.1 ", b"\r\n\r\n", b"ffffffffffffffff", b"\xef\xbc\x91"]
# Found by this test or by hand: each once crashed the parser.
KNOWN = [
    b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab",  # '²' is a digit to str.isdigit
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, \xb9\r\n\r\nab",
]


def parse(data: bytes, cuts: list[int], limit: int, head: bool) -> tuple[object, ...]:
    """Feed `data` in pieces cut at `cuts`, then close: the outcome, never an exception."""
    loop = asyncio.new_event_loop()
    try:
        exchange = Exchange(parse_url("http://127.0.0.1/"), b"", head, False, limit, None, None)
        parser = ResponseParser(loop, exchange, Trace(dict.fromkeys(PHASES, 0.0)))
        start = 0
        for cut in [*sorted(cuts), len(data)]:
            if cut > start:
                parser.data_received(data[start:cut])
                start = cut
        parser.connection_lost(None)
        assert parser.done.done()
        assert parser.done.exception() is None  # a failure is a reason, never an exception
        if parser.error is not None:
            assert parser.error
            return ("error", parser.error)
        resp = parser.response()
        assert len(resp.body) <= limit
        return (resp.status, resp.body)
    finally:
        loop.close()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(ODD), st.binary(min_size=1, max_size=8)))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at:at + len(piece)]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


responses = st.one_of(mutated(), st.binary(max_size=300),
                      st.sampled_from(KNOWN + VALID))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=responses, cuts=st.lists(st.integers(0, 400), max_size=6),
       limit=st.integers(0, 64), head=st.booleans())
def test_the_parser_never_raises_on_any_bytes(data, cuts, limit, head):
    parse(data, cuts, limit, head)


@pytest.mark.parametrize("data", KNOWN)
def test_a_content_length_in_unicode_digits_is_an_invalid_response(data):
    assert parse(data, [], 100, False) == (
        "error", "invalid HTTP response: invalid character in Content-Length")


async def probe_once(reply: bytes) -> str:
    """Serve `reply` to one connection on 127.0.0.1 and probe it: the result's reason."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
        except ConnectionError:  # the probe gave up first: fine
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        started = asyncio.get_running_loop().time()
        result = await run(HttpSpec(url=f"http://127.0.0.1:{port}/"), 2.0, ProbeContext())
        assert asyncio.get_running_loop().time() - started < 2.5  # within the deadline
    finally:
        server.close()
        await server.wait_closed()
    return result.reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=responses)
def test_the_probe_returns_a_reason_for_any_reply_over_a_real_socket(reply):
    assert asyncio.run(probe_once(reply))
