"""One word for one thing: the pages (the catalog), the board's JSON, the assessment, the CSV and the
messages say the same, and none says a word the glossary replaced."""

from __future__ import annotations

from babel.messages.pofile import read_po

from desk import glossary
from desk.board import STATUS_LABELS
from desk.notify_text import KIND_TITLES
from desk.stats.definitions import STATE_LABELS
from tests.helpers import ROOT

CATALOG = ROOT / "api" / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# msgid on the pages -> the glossary's word
PAGE_WORDS = {"Overdue": glossary.OVERDUE, "Met on time": glossary.MET, "Met late": glossary.MET_LATE,
              "Not yet due": glossary.PENDING, "Waived": glossary.WAIVED, "At risk": glossary.AT_RISK,
              "On track": glossary.ON_TRACK, "Escalation": "超时督办", "Repeated escalation": "再次督办"}


def _catalog() -> dict[str, str]:
    with CATALOG.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id and isinstance(m.id, str)}


def test_the_pages_use_the_glossary_words():
    zh = _catalog()
    assert {msgid: zh[msgid] for msgid in PAGE_WORDS} == PAGE_WORDS


def test_the_domain_tables_use_the_glossary_words():
    assert STATE_LABELS == glossary.MILESTONE_STATES
    assert set(STATUS_LABELS.values()) == {glossary.OVERDUE, glossary.AT_RISK, glossary.ON_TRACK}
    assert KIND_TITLES["breach"].strip("【】") == "超时督办"


def test_no_replaced_synonym_is_said_anywhere():
    said = {msgid: text for msgid, text in _catalog().items() if any(w in text for w in glossary.REPLACED)}
    assert said == {}
    tables = [*STATE_LABELS.values(), *STATUS_LABELS.values(), *KIND_TITLES.values()]
    assert [t for t in tables if any(w in t for w in glossary.REPLACED)] == []
