"""`siaga validate` speaks the file's `siaga.language` (English when the file states none),
and `--lang` overrides it: the operator reads what is wrong in the words of the agency."""

from __future__ import annotations

import pytest

from monitor.cli import main
from monitor.config.document import stated_language

MISTAKES = """\
siaga:
  language: {lang}
checks:
  - name: sipd
    interval: 5 menit
    htp: {{url: "https://sipd.example.go.id/"}}
  - name: portal
    tcp: {{port: 443}}
  - name: pajak
    interval: 5s
    timeout: 10s
    tcp: {{host: pajak.example.go.id, port: 443, attempts: dua}}
oncall:
  officers:
    andi: {{name: Andi, language: en, notify: ["json://127.0.0.1/andi"]}}
"""
SHORT = "siaga:\n  language: {lang}\nchecks:\n  - {{name: a, interval: 5s, timeout: 10s, " \
        "tcp: {{host: h, port: 1}}}}\n"
TAB = "siaga: {{language: {lang}}}\nchecks:\n  - name: a\n\ttcp: {{host: h, port: 1}}\n"
INDENT = "siaga: {{language: {lang}}}\nchecks:\n  - {{name: a, tcp: {{host: h, port: 1}}}}\n" \
         "   - name: b\n"


def validate(tmp_path, capsys, text: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    code = main(["-c", str(path), "validate", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_mistakes_are_told_in_indonesian_when_the_file_says_language_id(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, MISTAKES.format(lang="id"))
    assert code == 2
    assert ("checks[sipd].interval: seharusnya durasi seperti 30s, 5m atau 1h30m, "
            "tertulis '5 menit'") in out
    assert "checks[sipd].htp: kunci tidak dikenal (mungkin maksudnya 'http'?)" in out
    assert "checks[portal].tcp.host: wajib diisi" in out
    assert "checks[pajak].tcp.attempts: kunci tidak dikenal; kunci yang dikenal:" in out
    assert out.rstrip().endswith("checks.yaml: 4 kesalahan")
    assert "expected" not in out and "unknown key" not in out


def test_english_stays_as_it_was_with_language_en(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, MISTAKES.format(lang="en"))
    assert code == 2
    assert ("checks[sipd].interval: expected a duration like 30s, 5m or 1h30m, "
            "got '5 menit'") in out
    assert "checks[sipd].htp: unknown key (did you mean 'http'?)" in out
    assert "checks[portal].tcp.host: is required" in out
    assert out.rstrip().endswith("checks.yaml: 4 errors")


@pytest.mark.parametrize(("lang", "override", "words"), [
    ("id", "en", "is required"), ("en", "id", "wajib diisi")])
def test_lang_overrides_the_files_language(tmp_path, capsys, lang, override, words):
    code, out = validate(tmp_path, capsys, MISTAKES.format(lang=lang), "--lang", override)
    assert code == 2 and f"checks[portal].tcp.host: {words}" in out


def test_on_call_times_are_told_in_indonesian(tmp_path, capsys):
    text = SHORT.replace("interval: 5s, timeout: 10s, ", "") + (
        "oncall:\n  officers:\n    budi: {{notify: json://127.0.0.1/b, "
        "contact_hours: '7-22'}}\n")
    code, out = validate(tmp_path, capsys, text.format(lang="id"))
    assert code == 2 and ('checks.yaml:7:55: oncall.officers.budi.contact_hours: seharusnya '
                          'rentang jam harian "HH:MM-HH:MM" seperti "07:00-22:00", '
                          "tertulis '7-22'") in out


def test_an_interval_shorter_than_the_timeout_in_both_languages(tmp_path, capsys):
    _, out = validate(tmp_path, capsys, SHORT.format(lang="id"))
    assert "interval (5s) lebih pendek dari timeout (10s)" in out
    _, out = validate(tmp_path, capsys, SHORT.format(lang="en"))
    assert "interval (5s) is shorter than timeout (10s)" in out


def test_yaml_tab_and_indentation_mistakes_in_indonesian(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, TAB.format(lang="id"))
    assert code == 2 and "baris 4: karakter tab: YAML hanya memakai spasi" in out
    code, out = validate(tmp_path, capsys, INDENT.format(lang="id"))
    assert code == 2
    assert ("baris 4: baris ini menjorok berbeda dari baris-baris di atasnya — pakai 2 atau 4 "
            "spasi, tanpa tab\n       - name: b\n       ^\n") in out


def test_a_valid_file_is_said_valid_in_its_language(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, "siaga: {language: id}\nchecks:\n"
                                           "  - {name: a, tcp: {host: h, port: 1}}\n")
    assert code == 0 and "sah — 1 pemeriksaan (1 tcp) dalam 1 grup" in out


def test_the_language_is_read_from_siaga_not_from_an_officer():
    assert stated_language("siaga:\n  timezone: WIB\noncall:\n  officers:\n"
                           "    andi: {language: en}\n") is None
    assert stated_language("siaga:\n  officers_note: x\n  language: 'en'\n") == "en"
    assert stated_language("siaga: {listen: ':8080', language: id}\n") == "id"
    assert stated_language("siaga:\n  nested:\n    language: en\n  language: id\n") == "id"
