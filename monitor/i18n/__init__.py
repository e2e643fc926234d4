"""User-facing words in Bahasa Indonesia (default) and English.

Code, identifiers and logs stay English; everything a citizen or an officer reads goes
through `text(lang, key, **values)`. Each text is written once: the common words here, the
rest in one catalogue module per audience (pages, reports, status page, dashboard, CLI),
merged below when this package is imported, with no registration from other modules (which
text won used to depend on import order). `tests/test_i18n.py` checks that no key is defined
twice and that both languages have the same keys.
"""

from __future__ import annotations

import re
from collections import ChainMap
from typing import Any

from monitor.i18n import cli, dashboard, pages, reports, status_page

LANGUAGES = ("id", "en")
CATALOGUES = (pages, reports, status_page, dashboard, cli)

_COMMON: dict[str, dict[str, str]] = {
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
_TEXT: dict[str, dict[str, str]] = {
    "id": dict(ChainMap(_COMMON["id"], *(c.ID for c in CATALOGUES))),
    "en": dict(ChainMap(_COMMON["en"], *(c.EN for c in CATALOGUES))),
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


_VOTED = re.compile(r"^unreachable from (.+?) \((.*)\)(?:; (.+) still reach(?:es)? it)?"
                    r"(?:; (.+) cannot see the network)?$")
_REACHED = re.compile(r"^reachable from (.+?)(?:; unreachable from (.+) only \(quorum (\d+)\))?$")


def _and_id(names: str) -> str:
    return re.sub(r" and (\S+)$", r" dan \1", names)


def reason(lang: str, value: str) -> str:
    """A probe's or heartbeat's reason (English, as logged) in `lang`, durations in words:
    "status 503, expected 200" → "status 503, diharapkan 200"."""
    if lang != "id" or not value:
        return value
    voted = _VOTED.match(value)
    if voted:  # a fleet's verdict over locations (monitor.fleet.quorum)
        said = f"tidak dapat diakses dari {_and_id(voted[1])} ({reason(lang, voted[2])})"
        said += f"; {_and_id(voted[3])} masih bisa" if voted[3] else ""
        return said + (f"; jaringan {_and_id(voted[4])} sedang terganggu" if voted[4] else "")
    voted = _REACHED.match(value)
    if voted:
        said = f"dapat diakses dari {_and_id(voted[1])}"
        return said + (f"; hanya {_and_id(voted[2])} yang tidak (kuorum {voted[3]})"
                       if voted[2] else "")
    if value.startswith("no location can judge it"):
        return value.replace("no location can judge it", "belum ada lokasi yang dapat "
                             "menilai").replace("quorum", "kuorum")
    for pattern, replacement in _REASONS_ID:
        if pattern.match(value):
            value = pattern.sub(replacement, value)
            break
    for english, indonesian in _WORDS_ID:
        value = value.replace(english, indonesian)
    return _DURATION.sub(lambda m: " ".join(
        f"{n} {_UNITS_ID[unit]}" for n, unit in _DURATION_PART.findall(m[0])), value)


# `siaga validate`'s messages are made in English (logs and tests read them so); an operator
# with `siaga.language: id` reads them in Indonesian. The sentence frame first, then the
# nouns inside it; what no pattern knows is shown as it is.
_CONFIG_ID: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), replacement) for pattern, replacement in (
        (r"^unknown key \(did you mean ('[^']*')\?\)$",
         r"kunci tidak dikenal (mungkin maksudnya \1?)"),
        (r"^unknown key; known keys: (.*)$", r"kunci tidak dikenal; kunci yang dikenal: \1"),
        (r"^`([^`]+)` belongs under `([^`]+):` \(line (\d+)\): indent it one level more$",
         r"`\1` seharusnya di bawah `\2:` (baris \3): menjoroklah satu tingkat lagi"),
        (r"^is required$", "wajib diisi"),
        (r"^interval \((\S+)\) is shorter than timeout \((\S+)\)$",
         r"interval (\1) lebih pendek dari timeout (\2): naikkan interval atau turunkan "
         r"timeout"),
        (r"^expected at least (\d+) item\(s\)$", r"paling sedikit \1 butir"),
        (r"^expected (.+?), got (.+)$", r"seharusnya \1, tertulis \2"),
        (r"^duplicate check name ('[^']*') \(first on line (\d+)\)$",
         r"nama pemeriksaan \1 dipakai dua kali (pertama di baris \2)"),
        (r"^depends on ('[^']*'), which is no check$",
         r"bergantung pada \1, padahal tidak ada pemeriksaan bernama itu"),
        (r"^unknown time zone ('[^']*'), e\.g\. Asia/Jakarta$",
         r"zona waktu \1 tidak dikenal, mis. Asia/Jakarta (atau WIB, WITA, WIT)"),
        (r"^line (\d+): (.*)$", r"baris \1: \2"),
        (r"^the password must come from the environment: write (\S+), not the password "
         r"itself$", r"kata sandi harus dari environment: tulis \1, bukan kata sandinya"),
        (r"^a postgresql:// store needs psycopg: (.*)$",
         r"penyimpanan postgresql:// memerlukan psycopg: \1"),
    ))
_CONFIG_WORDS_ID = (
    # YAML mistakes (monitor.config.document), then the nouns of "expected …, got …"
    ("a tab character: YAML indents with spaces only; replace the tab with 2 or 4 spaces",
     "karakter tab: YAML hanya memakai spasi untuk menjorok; ganti tab dengan 2 atau 4 spasi"),
    ("this line is indented differently from the ones above it — use 2 or 4 spaces, no tabs",
     "baris ini menjorok berbeda dari baris-baris di atasnya — pakai 2 atau 4 spasi, "
     "tanpa tab"),
    ("this list item is indented differently from the ones above it — line the '-' up "
     "with theirs",
     "butir daftar ini menjorok berbeda dari butir di atasnya — sejajarkan '-' dengan "
     "milik mereka"),
    ("a ':' where YAML did not expect one: put a value that holds ': ' in quotes, or check "
     "the indentation",
     "ada ':' di tempat yang tidak diharapkan YAML: beri tanda kutip pada nilai yang memuat "
     "': ', atau periksa jorokan baris"),
    ("a quote or bracket opened here is never closed",
     "tanda kutip atau kurung yang dibuka di sini tidak pernah ditutup"),
    ("a key without ':' (or a quote left open)", "kunci tanpa ':' (atau tanda kutip terbuka)"),
    ("YAML syntax error:", "kesalahan sintaks YAML:"),
    ("a duration like 30s, 5m or 1h30m", "durasi seperti 30s, 5m atau 1h30m"),
    ("a cron expression like", "ekspresi cron seperti"),
    ("an integer", "bilangan bulat"), ("a finite number", "angka"), ("a number", "angka"),
    ("true or false", "true atau false"), ("a string", "teks"),
    ("a mapping", "pemetaan (kunci: nilai)"), ("a list", "daftar"), ("a value", "nilai"),
    ("a status code", "kode status"), ("a range like", "rentang seperti"),
    ("a class like", "kelas seperti"), ("one of ", "salah satu dari "),
    ("a URL starting with", "URL yang diawali"),
    (" and a host", " dan memuat nama host"), (" or ", " atau "),
    (", got nothing", ", tertulis kosong"), ("tertulis nothing", "tertulis kosong"),
    ("(did you mean", "(mungkin maksudnya"),
    ("a URL like", "URL seperti"), ("a database name", "nama basis data"),
    ("a user name", "nama pengguna"), ("a host in", "nama host di"),
    # the on-call section's times (monitor.paging.oncall.model)
    ('a daily window "HH:MM-HH:MM" like', 'rentang jam harian "HH:MM-HH:MM" seperti'),
    ('a time of day "HH:MM" like', 'jam "HH:MM" seperti'),
    ('a local time "YYYY-MM-DD HH:MM" like', 'waktu setempat "YYYY-MM-DD HH:MM" seperti'),
    ('a date "YYYY-MM-DD"', 'tanggal "YYYY-MM-DD"'), ("a weekday: ", "nama hari: "),
)


def config_message(lang: str, message: str) -> str:
    """A validation message (English, as made) in `lang`: "is required" → "wajib diisi"."""
    if lang != "id":
        return message
    first, newline, rest = message.partition("\n")  # a YAML error's line and caret follow
    for pattern, replacement in _CONFIG_ID:
        if pattern.match(first):
            first = pattern.sub(replacement, first)
            break
    for english, indonesian in _CONFIG_WORDS_ID:
        first = first.replace(english, indonesian)
    return first + newline + rest
