"""One place per translated text: the catalogues of monitor.i18n never define a key twice,
and every text exists in both languages."""

from __future__ import annotations

from collections import Counter

import pytest

from monitor import i18n

TABLES = {"common": (i18n._COMMON["id"], i18n._COMMON["en"]),
          **{c.__name__.rsplit(".", 1)[-1]: (c.ID, c.EN) for c in i18n.CATALOGUES}}


def test_no_text_is_defined_in_two_places():
    counts = Counter(key for indonesian, _ in TABLES.values() for key in indonesian)
    assert [key for key, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_text_exists_in_both_languages(name):
    indonesian, english = TABLES[name]
    assert set(indonesian) == set(english)


def test_a_catalogue_text_is_found_without_importing_the_module_that_shows_it():
    assert i18n.text("en", "dash.title") == "Availability dashboard"
    assert i18n.text("id", "cli.status.open", id=7) == "#7 belum ditangani"
    assert i18n.text("id", "status.open") == "Gangguan saat ini"
