"""Signed, expiring acknowledgement links: the token in `/ack/<token>` that lets an officer
acknowledge an incident from a page without logging in.

Token = base64url(payload ‖ mac), no padding. Payload (17 bytes + officer):
version (1) · incident id (uint32) · expiry (uint32 Unix seconds) · token id (8 random bytes)
· officer (UTF-8). The MAC is HMAC-SHA256 over a domain tag and the payload, truncated to
128 bits (RFC 2104 allows truncation to half the hash length) so the link still fits in an
SMS. Single use is the store's job: it records the claim's `token_id` once accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import AckTokenError, ConfigError, Problem
from monitor.i18n import text
from monitor.secretfile import read_or_create

ENV_KEY = "SIAGA_ACK_KEY"
KEY_FILE = "ack.key"
MIN_ENV_KEY_CHARS = 32
KEY_BYTES = 32
FORGED, EXPIRED, ALREADY_USED = "forged", "expired", "already used"

_VERSION = 1
_HEADER = struct.Struct(">BII8s")  # version, incident id, expiry, token id
_MAC_BYTES = 16
_DOMAIN = b"siaga/ack/v1\x00"  # a key reused elsewhere can never sign an ack by accident
_MAX_OFFICER_BYTES = 64

def reason_text(lang: str, reason: str) -> str:
    """The user-facing explanation of a refusal reason, for the /ack page."""
    return text(lang, "ack." + reason.replace(" ", "_"))


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a valid token says: `officer` may acknowledge `incident_id` until `expires_at`."""

    incident_id: int
    officer: str
    expires_at: float
    token_id: str  # hex; the store marks it used so the link works once


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes:
    padded = token + "=" * (-len(token) % 4)
    return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)


class AckSigner:
    """Signs and verifies acknowledgement tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("acknowledgement key is too short")
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return self.mac(_DOMAIN, payload)

    def mac(self, domain: bytes, payload: bytes) -> bytes:
        """The truncated HMAC of `payload` under a domain tag (one tag per kind of link)."""
        return hmac.new(self._key, domain + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, incident_id: int, officer: str, expires_at: float) -> str:
        """A URL-safe token letting `officer` acknowledge `incident_id` until `expires_at`."""
        name = officer.encode("utf-8")
        if not 0 <= incident_id < 2**32 or len(name) > _MAX_OFFICER_BYTES:
            raise ValueError("incident id or officer name out of range for an ack token")
        # Round the expiry down so a link never lives longer than asked.
        expiry = max(0, min(math.floor(expires_at), 2**32 - 1))
        payload = _HEADER.pack(_VERSION, incident_id, expiry, secrets.token_bytes(8)) + name
        return _b64encode(payload + self._mac(payload))

    def verify(self, token: str, now: float) -> AckClaim:
        """The claim inside `token`, or AckTokenError("forged" | "expired")."""
        try:
            raw = _b64decode(token)
        except (binascii.Error, ValueError):
            raise AckTokenError(FORGED) from None
        if len(raw) < _HEADER.size + _MAC_BYTES:
            raise AckTokenError(FORGED)
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise AckTokenError(FORGED)
        version, incident_id, expiry, token_id = _HEADER.unpack_from(payload)
        try:
            officer = payload[_HEADER.size:].decode("utf-8")
        except UnicodeDecodeError:
            raise AckTokenError(FORGED) from None
        if version != _VERSION or not officer:
            raise AckTokenError(FORGED)
        if now >= expiry:
            raise AckTokenError(EXPIRED)
        return AckClaim(incident_id, officer, float(expiry), token_id.hex())


VIEW_DOMAIN = b"siaga/view/v1\x00"  # read-only links (the /dashboard page), never an ack
_VIEW = struct.Struct(">I")


def sign_view(signer: AckSigner, expires_at: float) -> str:
    """A read-only link token for the manager's dashboard, valid until `expires_at`."""
    payload = _VIEW.pack(max(0, min(math.floor(expires_at), 2**32 - 1)))
    return _b64encode(payload + signer.mac(VIEW_DOMAIN, payload))


def verify_view(signer: AckSigner, token: str, now: float) -> float:
    """The expiry inside a view token, or AckTokenError("forged" | "expired")."""
    try:
        raw = _b64decode(token)
    except (binascii.Error, ValueError):
        raise AckTokenError(FORGED) from None
    payload, mac = raw[:_VIEW.size], raw[_VIEW.size:]
    if len(raw) != _VIEW.size + _MAC_BYTES or not hmac.compare_digest(
            mac, signer.mac(VIEW_DOMAIN, payload)):
        raise AckTokenError(FORGED)
    (expiry,) = _VIEW.unpack(payload)
    if now >= expiry:
        raise AckTokenError(EXPIRED)
    return float(expiry)


def _key_problem(message: str, where: str) -> ConfigError:
    return ConfigError([Problem(file=where, line=0, column=0, path="", message=message)])


def load_or_create_key(state_dir: Path, env: Mapping[str, str]) -> bytes:
    """The signing key: `SIAGA_ACK_KEY` from the environment (≥ 32 characters), else the
    32 random bytes in `state_dir/ack.key`, created once (monitor.secretfile: mode 0600,
    race-safe) and reused after."""
    from_env = env.get(ENV_KEY)
    if from_env is not None:
        if len(from_env) < MIN_ENV_KEY_CHARS:
            raise _key_problem(f"must be at least {MIN_ENV_KEY_CHARS} characters", ENV_KEY)
        return from_env.encode("utf-8")
    path = state_dir / KEY_FILE
    key = read_or_create(path, lambda: secrets.token_bytes(KEY_BYTES))
    if len(key) != KEY_BYTES:
        raise _key_problem(f"expected {KEY_BYTES} bytes, found {len(key)}", str(path))
    return key
