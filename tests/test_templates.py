"""Page texts in Bahasa Indonesia and English, full and SMS-sized."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.paging.templates import (
    KINDS,
    SMS_LIMIT,
    PageContext,
    format_duration,
    format_time,
    is_sms_url,
    render,
    to_message,
)

WIB = ZoneInfo("Asia/Jakarta")
SINCE = datetime(2026, 11, 28, 3, 12, tzinfo=WIB)
ACK = "https://siaga.diskominfo.example.go.id/ack/AQAAAAx3NZQACKxo6dPabU9idWRpZqj15ZxkxQFjuGOjFfTN9g"
STATUS = "https://status.example.go.id/"
GSM_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
               " \r\n!\"#$%&'()*+,-./:;<=>?@_")


def ctx(kind: str = "page", **changes: object) -> PageContext:
    fields: dict[str, object] = dict(
        kind=kind, incident_id=12, check_title="SIPD", group="Keuangan Daerah",
        reason="status 503", since=SINCE, on_duty="Budi Santoso", ack_url=ACK,
        status_url=STATUS, affected=["e-Budgeting", "SIPD Mobile"], duration=7500.0)
    fields.update(changes)
    return PageContext(**fields)  # type: ignore[arg-type]


def long_ctx(kind: str) -> PageContext:
    """Every field at its worst: long, non-ASCII, many affected services."""
    return ctx(kind, check_title="SIPD — Sistem Informasi Pemerintahan Daerah Provinsi Jawa Barat",
               reason="TLS: sertifikat kedaluwarsa → jabat tangan gagal … " * 3,
               on_duty="Ni Luh Putu Ayu Pratiwi Dewi", acked_by=None,
               affected=[f"layanan-{i}" for i in range(40)], note="catatan panjang " * 10)


def test_indonesian_page_says_what_since_when_who_and_how_to_ack() -> None:
    title, body = render(ctx(), "id")
    assert title == "GANGGUAN: SIPD"
    assert "SIPD (Keuangan Daerah) tidak dapat diakses sejak 28 Nov 2026 03:12 WIB." in body
    assert "Gejala: status 503" in body
    assert "Petugas piket: Budi Santoso" in body
    assert f"Konfirmasi, saya tangani: {ACK}" in body
    assert f"Halaman status: {STATUS}" in body
    assert "Layanan lain yang terdampak: e-Budgeting, SIPD Mobile" in body


def test_english_page_says_the_same_in_english() -> None:
    title, body = render(ctx(), "en")
    assert title == "DOWN: SIPD"
    assert "since 28 Nov 2026 03:12 WIB" in body
    assert "Reason: status 503" in body
    assert "On duty: Budi Santoso" in body
    assert f"Acknowledge: {ACK}" in body


def test_time_is_shown_in_the_configured_zone() -> None:
    makassar = datetime(2026, 5, 3, 1, 2, tzinfo=UTC).astimezone(ZoneInfo("Asia/Makassar"))
    _, body = render(ctx(since=makassar), "id")
    assert "sejak 3 Mei 2026 09:02 WITA" in body


def test_month_names_follow_the_language_not_the_locale() -> None:
    moment = datetime(2026, 8, 17, 10, 0, tzinfo=WIB)
    assert format_time(moment, "id") == "17 Agu 2026 10:00 WIB"
    assert format_time(moment, "en") == "17 Aug 2026 10:00 WIB"


def test_resolved_message_says_pulih_with_the_duration() -> None:
    title, body = render(ctx("resolved"), "id")
    assert title == "PULIH: SIPD"
    assert "lamanya 2 jam 5 menit" in body
    assert ACK not in body  # nothing left to acknowledge
    assert render(ctx("resolved"), "en")[0] == "RESOLVED: SIPD"


def test_acknowledged_message_tells_the_others_who_took_it() -> None:
    title, body = render(ctx("acknowledged", acked_by="Sari"), "id")
    assert title == "DITANGANI: SIPD"
    assert "sedang ditangani oleh Sari" in body
    assert ACK not in body


def test_reminder_after_ack_names_the_handler_instead_of_an_ack_link() -> None:
    title, body = render(ctx("reminder", acked_by="Sari"), "id")
    assert title == "PENGINGAT: SIPD"
    assert "Ditangani oleh: Sari" in body
    assert ACK not in body


def test_escalated_page_says_which_step() -> None:
    _, body = render(ctx(step=1), "id")
    assert "Eskalasi tahap 2" in body


def test_blind_message_explains_that_pages_are_held() -> None:
    title, body = render(ctx("blind", check_title="jakarta-1", group=""), "id")
    assert title == "PEMANTAUAN TERGANGGU: jakarta-1"
    assert "notifikasi gangguan ditahan" in body


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_sms_fits_160_gsm_characters_even_with_long_fields(kind: str, lang: str) -> None:
    title, body = render(long_ctx(kind), lang, sms=True)
    assert len(title) + 2 + len(body) <= SMS_LIMIT  # apprise joins them with "\r\n"
    assert set(title + body) <= GSM_SAFE


@pytest.mark.parametrize("lang", ["id", "en"])
def test_sms_page_ends_with_the_ack_link(lang: str) -> None:
    title, body = render(long_ctx("page"), lang, sms=True)
    assert body.endswith(ACK)
    assert title.startswith("GANGGUAN: SIPD" if lang == "id" else "DOWN: SIPD")


def test_short_sms_keeps_reason_time_and_officer() -> None:
    title, body = render(ctx(ack_url="https://s.example/ack/x"), "id", sms=True)
    assert title == "GANGGUAN: SIPD"
    assert body == ("status 503. Sejak 28 Nov 03:12 WIB. Piket: Budi Santoso. "
                    "+2 layanan lain. Tangani: https://s.example/ack/x")


def test_sms_resolved_has_the_duration() -> None:
    _, body = render(ctx("resolved"), "en", sms=True)
    assert "For 2h 5m." in body


def test_durations_read_naturally() -> None:
    assert format_duration(42, "id") == "kurang dari 1 menit"
    assert format_duration(90061, "id") == "1 hari 1 jam 1 menit"
    assert format_duration(3600, "en") == "1 h"
    assert format_duration(7500, "id", short=True) == "2j 5m"


@pytest.mark.parametrize(("url", "sms"), [
    ("twilio://SID:TOKEN@15551234567/15557654321", True),
    ("sns://KEY/SECRET/ap-southeast-1/+6281234567890", True),
    ("tgram://123:ABC/456", False),
    ("mailto://budi@example.test", False),
])
def test_sms_channels_are_known_by_scheme(url: str, sms: bool) -> None:
    assert is_sms_url(url) is sms


def test_pager_can_override_the_sms_decision() -> None:
    assert is_sms_url("tgram://123:ABC/456", override=True) is True
    assert is_sms_url("twilio://a:b@1/2", override=False) is False


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(since=datetime(2026, 11, 28, 3, 12))


def test_message_carries_the_notifier_kind_and_key() -> None:
    message = to_message(ctx("acknowledged", acked_by="Sari"), "en", key="inc-12/ack/sari")
    assert (message.kind, message.key) == ("ack", "inc-12/ack/sari")
    assert message.title == "ACKNOWLEDGED: SIPD"


HEARTBEAT_REASON = "no ping since 03:10 WIB (expected every 1d, grace 2h)"
ENGLISH_WORDS = ("recovered", "expected", "grace", "every", "since", "timeout", "status page",
                 "acknowledge", "down", "ping")


def test_probe_reasons_are_said_in_indonesian() -> None:
    _, body = render(ctx(reason="status 503, expected 200"), "id")
    assert "Gejala: status 503, diharapkan 200" in body


def test_a_missed_heartbeat_says_the_job_did_not_report_with_the_reason_in_indonesian() -> None:
    _, body = render(ctx(check_title="Backup harian", group="Infrastruktur", heartbeat=True,
                         reason=HEARTBEAT_REASON, affected=[]), "id")
    assert body.startswith("Tugas terjadwal Backup harian (Infrastruktur) tidak melapor sejak")
    assert ("tidak ada kabar sejak 03:10 WIB (diharapkan tiap 1 hari, toleransi 2 jam)"
            in body)
    assert "tidak dapat diakses" not in body


@pytest.mark.parametrize("kind", ["page", "reminder", "resolved", "acknowledged", "flapping"])
def test_indonesian_messages_have_no_english_words_and_no_doubled_brackets(kind: str) -> None:
    for heartbeat in (False, True):
        title, body = render(ctx(kind, heartbeat=heartbeat, reason=HEARTBEAT_REASON,
                                 acked_by="Sari"), "id")
        words = (title + " " + body.split("https://")[0]).lower()
        assert not [w for w in ENGLISH_WORDS if w in words.replace("status 5", "")], words
        assert "((" not in body and "))" not in body


def test_the_officer_is_asked_to_handle_not_to_confess() -> None:
    _, body = render(ctx(), "id")
    _, sms = render(ctx(), "id", sms=True)
    assert "Akui" not in body + sms and "Penyebab" not in body
    assert "Konfirmasi, saya tangani:" in body and "Tangani: " in sms


def test_heartbeat_sms_in_indonesian_fits_160_characters() -> None:
    title, body = render(ctx(heartbeat=True, reason=HEARTBEAT_REASON), "id", sms=True)
    assert len(title) + 2 + len(body) <= SMS_LIMIT
    assert "tidak ada kabar sejak 03:10 WIB" in body
