"""User-facing words in Bahasa Indonesia (default) and English.

Code, identifiers and logs stay English; everything a citizen or an officer reads goes
through `text(lang, key, **values)`.
"""

from __future__ import annotations

import re
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
        "ack.forged": "Tautan ini tidak sah atau telah diubah.",
        "ack.expired": "Tautan ini sudah kedaluwarsa.",
        "ack.already_used": "Tautan ini sudah pernah dipakai.",
        "ack.confirm_title": "Tangani gangguan ini?",
        "ack.button": "Ya, saya tangani",
        "ack.done": "Dikonfirmasi: {title} ditangani oleh {who}.",
        "ack.service": "Layanan",
        "ack.problem": "Masalah",
        "ack.since": "Sejak",
        "ack.incident": "Insiden",
        "ack.others": "Juga dihubungi",
        "ack.nobody_else": "hanya Anda",
        "ack.status_title": "Insiden #{id}",
        "ack.acked_by": "Ditangani oleh {who} sejak {at}.",
        "ack.resolved": "Sudah pulih pada {at}.",
        "ack.view": "Lihat insiden #{id}",
        "ack.no_incident": "Insiden {id} tidak ada.",
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
        "ack.service": "Service",
        "ack.problem": "What is wrong",
        "ack.since": "Since",
        "ack.incident": "Incident",
        "ack.others": "Also paged",
        "ack.nobody_else": "only you",
        "ack.status_title": "Incident #{id}",
        "ack.acked_by": "Acknowledged by {who} at {at}.",
        "ack.resolved": "Recovered at {at}.",
        "ack.view": "View incident #{id}",
        "ack.no_incident": "Incident {id} does not exist.",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    """The message `key` in `lang` (falling back to Indonesian), formatted with `values`."""
    table = _TEXT.get(lang, _TEXT["id"])
    template = table.get(key) or _TEXT["id"].get(key) or key
    return template.format(**values) if values else template


def state_word(lang: str, state: str) -> str:
    return text(lang, f"state.{state}")


# Probe and heartbeat reasons are written in English where they are made (logs, metrics and
# the API keep them so); a message to a person says them in the person's language. Patterns,
# most specific first; what no pattern knows is shown as it is.
_UNITS_ID = {"ms": "milidetik", "s": "detik", "m": "menit", "h": "jam", "d": "hari", "w": "minggu"}
_DURATION = re.compile(r"\b(?:\d+(?:ms|s|m|h|d|w))+\b")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_REASONS_ID: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement) for pattern, replacement in (
        (r"^no ping since (.+) \(expected every (\S+), grace (\S+)\)$",
         r"tidak ada kabar sejak \1 (diharapkan tiap \2, toleransi \3)"),
        (r"^no ping since (.+) \(expected at (.+), grace (\S+)\)$",
         r"tidak ada kabar sejak \1 (diharapkan pukul \2, toleransi \3)"),
        (r"^no ping yet \(expected every (\S+), grace (\S+)\)$",
         r"belum pernah ada kabar (diharapkan tiap \1, toleransi \2)"),
        (r"^no ping yet \(expected at (.+), grace (\S+)\)$",
         r"belum pernah ada kabar (diharapkan pukul \1, toleransi \2)"),
        (r"^job reported failure at (.+)$", r"tugas melaporkan gagal pada \1"),
        (r"^job failed(.*)$", r"tugas gagal\1"),
        (r"^started at (.+), no finish after (\S+) \(max_runtime (\S+)\)$",
         r"mulai pukul \1, belum selesai setelah \2 (batas \3)"),
        (r"^status (\d+), expected (.+)$", r"status \1, diharapkan \2"),
        (r"^connect: connection refused$", "koneksi ditolak"),
        (r"^connect: (.+)$", r"gagal tersambung: \1"),
        (r"^timeout after (\S+) \((.+)\)$", r"tidak menjawab dalam \1 (\2)"),
        (r"^timeout after (\S+)$", r"tidak menjawab dalam \1"),
        (r"^resolve: name not found \((.+)\)$", r"nama \1 tidak ditemukan di DNS"),
        (r"^resolve: (.+)$", r"DNS gagal: \1"),
        (r"^tls: certificate has expired$", "sertifikat TLS sudah kedaluwarsa"),
        (r"^tls: (.+)$", r"TLS: \1"),
        (r"^certificate expires in (.+)$", r"sertifikat berakhir dalam \1"),
        (r"^certificate expired (.+) ago$", r"sertifikat kedaluwarsa \1 yang lalu"),
        (r"^body does not contain (.+)$", r"isi halaman tidak memuat \1"),
        (r"^body contains (.+)$", r"isi halaman memuat \1"),
        (r"^took (\S+), expected at most (\S+)$", r"lambat: \1, batas \2"),
        (r"^slow: took (\S+) \(warning above (\S+)\)$", r"lambat: \1 (peringatan di atas \2)"),
        (r"^flapping: (\S+) state changes$", r"tidak stabil: \1 perubahan kondisi"),
        (r"^stable again \((\S+) state changes\): (.+)$",
         r"stabil kembali (\1 perubahan kondisi): \2"),
        (r"^on time$", "tepat waktu"),
        (r"^waiting for the first ping$", "menunggu kabar pertama"),
        (r"^ok$", "berhasil"),
        (r"^packet loss (\S+) \(maximum (\S+)\)$", r"paket hilang \1 (batas \2)"),
    ))
_WORDS_ID = (("(no response headers)", "(tanpa header jawaban)"), ("(no body)", "(tanpa isi)"),
             ("(connect)", "(saat menyambung)"), (" days", " hari"), (" day", " hari"))


def reason(lang: str, value: str) -> str:
    """A probe's or heartbeat's reason (English, as logged) in `lang`, durations in words:
    "status 503, expected 200" → "status 503, diharapkan 200"."""
    if lang != "id" or not value:
        return value
    for pattern, replacement in _REASONS_ID:
        if pattern.match(value):
            value = pattern.sub(replacement, value)
            break
    for english, indonesian in _WORDS_ID:
        value = value.replace(english, indonesian)
    return _DURATION.sub(lambda m: " ".join(
        f"{n} {_UNITS_ID[unit]}" for n, unit in _DURATION_PART.findall(m[0])), value)


def register(lang: str, entries: dict[str, str]) -> None:
    """Let a module add its own messages (alerting templates, status page) at import time."""
    _TEXT.setdefault(lang, {}).update(entries)
