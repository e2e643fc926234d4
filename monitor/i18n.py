"""User-facing words in Bahasa Indonesia (default) and English.

Code, identifiers and logs stay English; everything a citizen or an officer reads goes
through `text(lang, key, **values)`.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("id", "en")

_TEXT: dict[str, dict[str, str]] = {
    "id": {
        "state.unknown": "belum diketahui",
        "state.up": "normal",
        "state.degraded": "melambat",
        "state.down": "gangguan",
        "state.flapping": "tidak stabil",
        "state.maintenance": "pemeliharaan",
        "transition": "[{state_upper}] {title}: {old} → {new}. {reason}",
        "ok": "berhasil",
        "failed": "gagal",
        "ack.refused": "Tautan ditolak",
        "ack.forged": "Tautan pengakuan tidak sah atau rusak.",
        "ack.expired": "Tautan pengakuan sudah kedaluwarsa.",
        "ack.already_used": "Tautan pengakuan ini sudah pernah dipakai.",
        "ack.confirm_title": "Akui gangguan ini?",
        "ack.button": "Ya, saya tangani",
        "ack.done": "Diakui: {title} ditangani oleh {who}.",
    },
    "en": {
        "state.unknown": "unknown",
        "state.up": "up",
        "state.degraded": "degraded",
        "state.down": "down",
        "state.flapping": "flapping",
        "state.maintenance": "maintenance",
        "transition": "[{state_upper}] {title}: {old} → {new}. {reason}",
        "ok": "ok",
        "failed": "failed",
        "ack.refused": "Link refused",
        "ack.forged": "This acknowledgement link is invalid or damaged.",
        "ack.expired": "This acknowledgement link has expired.",
        "ack.already_used": "This acknowledgement link has already been used.",
        "ack.confirm_title": "Acknowledge this incident?",
        "ack.button": "Yes, I am on it",
        "ack.done": "Acknowledged: {who} is handling {title}.",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    """The message `key` in `lang` (falling back to Indonesian), formatted with `values`."""
    table = _TEXT.get(lang, _TEXT["id"])
    template = table.get(key) or _TEXT["id"].get(key) or key
    return template.format(**values) if values else template


def state_word(lang: str, state: str) -> str:
    return text(lang, f"state.{state}")


def register(lang: str, entries: dict[str, str]) -> None:
    """Let a module add its own messages (alerting templates, status page) at import time."""
    _TEXT.setdefault(lang, {}).update(entries)
