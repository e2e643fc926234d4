"""Signed, expiring acknowledgement links and their key."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from monitor.errors import AckTokenError, ConfigError
from monitor.paging.acktoken import (
    ALREADY_USED,
    EXPIRED,
    FORGED,
    AckClaim,
    AckSigner,
    load_or_create_key,
    reason_text,
)

KEY = b"k" * 32
NOW = 1_795_000_000.0
SIGNER = AckSigner(KEY)


def reason_of(signer: AckSigner, token: str, now: float = NOW) -> str:
    with pytest.raises(AckTokenError) as refused:
        signer.verify(token, now)
    return refused.value.reason


def flip(token: str, index: int) -> str:
    """The token with one bit of its decoded byte `index` flipped, re-encoded."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_valid_token_gives_back_incident_officer_and_expiry() -> None:
    token = SIGNER.sign(12, "budi", NOW + 3600)
    claim = SIGNER.verify(token, NOW)
    assert isinstance(claim, AckClaim)
    assert (claim.incident_id, claim.officer, claim.expires_at) == (12, "budi", NOW + 3600)
    assert re.fullmatch(r"[0-9a-f]{16}", claim.token_id)


def test_token_is_url_safe_and_short_enough_for_an_sms() -> None:
    token = SIGNER.sign(4_000_000_000, "budi", NOW + 3600)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert len(token) <= 60


def test_every_token_has_its_own_id() -> None:
    first, second = (SIGNER.sign(12, "budi", NOW + 60) for _ in range(2))
    assert first != second
    assert SIGNER.verify(first, NOW).token_id != SIGNER.verify(second, NOW).token_id


def test_altered_payload_is_forged() -> None:
    token = SIGNER.sign(12, "budi", NOW + 3600)
    assert reason_of(SIGNER, flip(token, 4)) == FORGED  # the incident id's last byte


def test_altered_signature_is_forged() -> None:
    token = SIGNER.sign(12, "budi", NOW + 3600)
    assert reason_of(SIGNER, flip(token, -1)) == FORGED


def test_token_signed_with_another_key_is_forged() -> None:
    token = AckSigner(b"x" * 32).sign(12, "budi", NOW + 3600)
    assert reason_of(SIGNER, token) == FORGED


@pytest.mark.parametrize("token", ["", "abc", "!!!not-base64!!!", "A" * 200])
def test_garbage_is_forged(token: str) -> None:
    assert reason_of(SIGNER, token) == FORGED


def test_expired_token_is_refused_even_if_genuine() -> None:
    token = SIGNER.sign(12, "budi", NOW + 60)
    assert SIGNER.verify(token, NOW + 59).officer == "budi"
    assert reason_of(SIGNER, token, now=NOW + 60) == EXPIRED


@pytest.mark.parametrize("reason", [FORGED, EXPIRED, ALREADY_USED])
def test_every_refusal_has_words_in_both_languages(reason: str) -> None:
    indonesian, english = reason_text("id", reason), reason_text("en", reason)
    assert indonesian != english
    assert "ack." not in indonesian and "ack." not in english


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = load_or_create_key(state, {})
    key_file = state / "ack.key"
    assert len(first) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(state, {}) == first
    assert [p.name for p in state.iterdir()] == ["ack.key"]  # no temporary file left behind


def test_links_survive_a_restart(tmp_path: Path) -> None:
    token = AckSigner(load_or_create_key(tmp_path, {})).sign(7, "sari", NOW + 60)
    assert AckSigner(load_or_create_key(tmp_path, {})).verify(token, NOW).officer == "sari"


def test_key_from_the_environment_wins_and_writes_no_file(tmp_path: Path) -> None:
    secret = "s" * 40
    assert load_or_create_key(tmp_path, {"SIAGA_ACK_KEY": secret}) == secret.encode()
    assert not (tmp_path / "ack.key").exists()


def test_short_key_in_the_environment_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_or_create_key(tmp_path, {"SIAGA_ACK_KEY": "too-short"})


def test_damaged_key_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ack.key").write_bytes(b"short")
    with pytest.raises(ConfigError, match="expected 32 bytes"):
        load_or_create_key(tmp_path, {})
