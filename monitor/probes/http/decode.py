"""Turning a response body into what `expect:` reads: Content-Encoding undone incrementally
under a cap on the *decoded* size, and text decoded with the declared charset.

A server may compress whether or not we asked (many CDNs and WAFs do), so whatever coding
arrives is decoded. The cap is what makes that safe: a 1 MB gzip that inflates to 1 GB stops
after `limit + 1` decoded bytes, each step asking zlib or brotli for no more than is left.
"""

from __future__ import annotations

import codecs
import re
import zlib
from typing import Protocol

try:  # optional: `br` is decoded only when the brotli package is installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

# WHATWG's encoding labels: these all mean windows-1252 in a browser, whose 0x80–0x9F are
# letters and punctuation where ISO-8859-1 has control codes.
_AS_WINDOWS_1252 = frozenset({
    "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii",
    "cp819", "ibm819", "iso-ir-100", "csisolatin1", "windows-1252", "cp1252", "x-cp1252",
})  # fmt: skip
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# The HTML prescan looks at the first 1024 bytes for <meta charset> or http-equiv's content.
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_PRESCAN = 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


class DecodeError(Exception):
    """The body is not valid in its declared coding; the message is the reason."""


class Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes from `data`, at most `room` of them (more may be pending)."""
        ...

    def pending(self) -> bool:
        """Input is left that a later call (with more room) would decode."""
        ...


class _Zlib:
    """gzip or deflate; deflate is tried as zlib-wrapped first and raw second, as browsers do
    (servers disagree about what RFC 9110's "deflate" means)."""

    __slots__ = ("_obj", "_raw_ok", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._raw_ok = name == "deflate"
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if name == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        obj = self._obj
        try:
            out = obj.decompress(obj.unconsumed_tail + data, max(room, 1))
        except zlib.error:
            if not self._raw_ok:
                raise DecodeError(f"content-encoding {self.name}: invalid data") from None
            self._raw_ok = False
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data, room)
        self._raw_ok = False  # the first bytes decoded: the framing is settled
        return out

    def pending(self) -> bool:
        return bool(self._obj.unconsumed_tail)


class _Brotli:
    __slots__ = ("_obj",)

    def __init__(self) -> None:
        assert brotli is not None
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return bytes(self._obj.process(data, output_buffer_limit=max(room, 1)))
        except brotli.error:
            raise DecodeError("content-encoding br: invalid data") from None

    def pending(self) -> bool:
        return not self._obj.can_accept_more_data()


def decoder_for(content_encoding: str | None) -> Decoder | None:
    """The decoder for a Content-Encoding header, or None to keep the bytes as they are
    (no coding, identity, or one we cannot undo: the body is then judged as sent)."""
    if not content_encoding:
        return None
    name = content_encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return _Zlib("gzip")
    if name == "deflate":
        return _Zlib("deflate")
    if name == "br" and brotli is not None:
        return _Brotli()
    return None


def accepted_encodings() -> str:
    """The Accept-Encoding value for `compressed: true`: what `decoder_for` can undo."""
    return "gzip, deflate, br" if brotli is not None else "gzip, deflate"


def body_text(body: bytes, content_type: str | None) -> str:
    """The body as text: a BOM first, then the charset declared in Content-Type, then an HTML
    <meta charset>, else UTF-8; bytes the charset cannot map become U+FFFD."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, "replace")
    charset = None
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        charset = match.group(1) if match else None
    if charset is None and b"<meta" in body[:_PRESCAN].lower():
        meta = _META_CHARSET.search(body[:_PRESCAN])
        charset = meta.group(1).decode("ascii") if meta else None
    return body.decode(_codec(charset), "replace")


def _codec(label: str | None) -> str:
    if label is None:
        return "utf-8"
    label = label.strip().lower()
    if label in _AS_WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return "utf-8"
