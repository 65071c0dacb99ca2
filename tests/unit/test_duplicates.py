"""The likeness of two reports (desk.duplicates): character bigrams, Chinese as written."""

from __future__ import annotations

from desk.duplicates import THRESHOLD, WEAK, bigrams, similarity

PLACES = {b: WEAK for b in bigrams("巴州区") | bigrams("恩阳区")}


def score(a: str, b: str) -> float:
    return similarity(bigrams(a), bigrams(b), PLACES)


def test_bigrams_ignore_punctuation_spaces_and_case():
    assert bigrams("燃气，爆炸！") == bigrams("燃气 爆炸") == {"燃气", "气爆", "爆炸"}
    assert bigrams("ＡＢc") == {"ab", "bc"}  # full-width letters as typed on a Chinese keyboard
    assert bigrams("燃") == set()


def test_a_reworded_report_of_one_event_is_alike_and_another_event_in_the_same_county_is_not():
    assert score("燃气泄漏引发爆炸", "巴州区某小区燃气爆炸") >= THRESHOLD  # only 燃气 and 爆炸 in common
    assert score("巴州区道路塌陷", "巴州区学校食堂投诉") < THRESHOLD  # the county alone says nothing
    assert score("燃气", "巴州区某小区燃气爆炸") >= THRESHOLD  # a two-character title found inside a longer one
    assert score("燃气", "恩阳区道路塌陷") == 0.0
