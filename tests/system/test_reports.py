"""Reports (SPEC §10): the 通报 shows the assessment's own figures (as numbers in the spreadsheet), a period
without incidents gives a valid document that says so, and the post-incident review comes back out of the
.docx and the PDF with its Chinese (no boxes: the text is extracted, not guessed from a picture)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from docx import Document as Docx
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import select

from api.web.reports import review_document
from desk import reports, stats
from desk.db import init_db, session_scope
from desk.errors import InvalidInput, NotFound
from desk.models import NotificationAttempt, TimelineEvent, User
from tests.helpers import add_incident, add_users, shanghai
from tests.system.test_stats import NOW, Q1, known  # noqa: F401 (the assessment's hand-checked incidents)


def docx_text(body: bytes) -> str:
    doc = Docx(io.BytesIO(body))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_the_bulletin_shows_the_assessments_figures_as_numbers_and_ranks_like_the_page(known):  # noqa: F811
    with session_scope(known) as s:
        doc = reports.bulletin(s, reports.report_period("2026-Q1"), now=NOW)
        rep = stats.assessment(s, Q1, now=NOW)
    book = load_workbook(io.BytesIO(reports.to_xlsx(doc)))
    assert book.sheetnames == ["排名", "超时清单", "口径"]
    rows = list(book["排名"].iter_rows(min_row=3, values_only=True))
    header, body = rows[0], {r[1]: r for r in rows[1:]}
    assert header[:3] == ("排名", "责任单位", "事件数")
    csv_rates = {(r[0], r[2]): r[9] for r in stats.summary_rows(rep)[1:] if len(r) > 9}  # the CSV's on-time rates
    total = 3 + len(rep["milestones"])  # after a rate per line (the milestones, then the tasks): the totals
    assert header[3:total] == tuple(f"{stats.MILESTONE_LABELS[m['key']]}及时率" for m in rep["milestones"])
    for party in rep["parties"]:
        row = body[party["name"]]
        assert row[2] == party["figures"]["incidents"] and isinstance(row[2], int)
        for i, key in enumerate(stats.ASSESSED, 3):
            rate = (party["milestones"].get(key) or {}).get("on_time_rate")
            assert row[i] == rate, (party["name"], key)
            assert (f"{row[i] * 100:.1f}" if row[i] is not None else "") == csv_rates[(party["name"],
                                                                                        stats.MILESTONE_LABELS[key])]
        assert row[total] == party["figures"]["on_time_rate"] and isinstance(row[total], int | float)  # not "60.0%"
        assert row[total + 2] == party["figures"]["overdue"]
    assert [r[0] for r in rows[1:-1]] == [p["rank"] for p in stats.rank_parties(rep["parties"])]
    assert body["合计"][2] == rep["overall"]["incidents"] == 7  # the drill and the incidents outside Q1 never count
    assert book["排名"]["G4"].number_format == "0.0%"
    missed = list(book["超时清单"].iter_rows(min_row=4, values_only=True))
    overdue_and_late = sum(p["figures"]["overdue"] + p["figures"]["met_late"] for p in rep["parties"])
    assert len(missed) == overdue_and_late == 4
    assert all(isinstance(r[6], int | float) and r[6] > 0 for r in missed), missed  # hours late, a number


@pytest.mark.sqlite_only
def test_a_period_without_incidents_gives_a_valid_document_that_says_so(database_url):
    init_db(database_url)
    with session_scope(database_url) as s:
        doc = reports.bulletin(s, reports.report_period("2025-07"))
    for fmt, text in (("docx", docx_text), ("pdf", pdf_text)):
        body = reports.render(doc, fmt)
        said = text(body)
        assert "关于2025年7月政务舆情回应情况的通报" in said and "无舆情事件" in said, fmt
        assert "〔" in said and "号" in said  # the 文号 line, for the office to fill in
    book = load_workbook(io.BytesIO(reports.to_xlsx(doc)))
    assert book.sheetnames == ["口径"]
    with pytest.raises(InvalidInput):
        reports.report_period("2025-13")


@pytest.mark.sqlite_only
def test_the_review_reads_back_from_docx_and_pdf_with_its_chinese(database_url):
    add_users(database_url)
    with session_scope(database_url) as s:
        detected = shanghai(2026, 5, 6, 9)
        incident = add_incident(s, party="bazhou", level="III", detected_at=detected, title="某小区燃气泄漏引发网络关注",
                                milestones={"acknowledge": ("met", 0.5), "first_release": ("met_late", 50)},
                                events=[("acknowledged", detected + timedelta(minutes=30))])
        seq = 3
        for kind, at, payload in (
                ("level_changed", detected + timedelta(hours=2), {"from": "III", "to": "II", "reason": "伤亡增加"}),
                ("released", detected + timedelta(hours=50), {"released_at": (detected + timedelta(hours=50)).isoformat(),
                                                              "channel": "政府网站", "url": "https://www.bazhong.gov.cn/1",
                                                              "summary": "通报处置进展 <第1次> & 后续",
                                                              "met": ["first_release"]})):
            s.add(TimelineEvent(incident_id=incident.id, event_key=f"{incident.workflow_id}/{seq}", seq=seq, kind=kind,
                                actor="super", at=at, payload=payload))
            seq += 1
        for n, (tags, status) in enumerate((("bazhou", "delivered"), ("bazhou,supervisor", "failed"),
                                            ("bazhou,supervisor", "delivered"))):
            s.add(NotificationAttempt(incident_id=incident.id, dedupe_key=f"k{min(n, 1)}", kind="reminder", tags=tags,
                                      channel_id=f"c{n}", service="json", status=status,
                                      at=detected + timedelta(hours=n + 1)))
        s.commit()
        human_id = incident.human_id
        viewer = s.exec(select(User).where(User.username == "super")).one()
        doc = review_document(s, human_id, viewer, "zh")
        outsider = s.exec(select(User).where(User.username == "enyang")).one()
        with pytest.raises(NotFound):
            review_document(s, human_id, outsider, "zh")  # another party's responder: no such incident
        with pytest.raises(NotFound):
            review_document(s, "YQ-2026-999999", viewer, "zh")
    deliveries = next(sec for sec in doc.sections if sec.heading == "通知送达").blocks[1]
    assert [r[1:] for r in deliveries.rows] == [[2, 2, 0, 1], [1, 1, 0, 1]]  # bazhou, then the supervisor
    docx = reports.render(doc, "docx")
    pdf = reports.render(doc, "pdf")
    assert zipfile.is_zipfile(io.BytesIO(docx)) and pdf.startswith(b"%PDF")
    for fmt, said in (("docx", docx_text(docx)), ("pdf", pdf_text(pdf))):
        flat = said.replace("\n", "")
        assert "复盘报告" in flat and "某小区燃气泄漏引发网络关注" in flat, fmt
        assert "巴州区人民政府" in flat, fmt
        for expected in ("重大", "伤亡增加", "政府网站", "通报处置进展", "超时完成", "2小时", "本事件没有附件记录"):
            assert expected in flat, (fmt, expected)
    assert docx_text(docx).count("通报处置进展 <第1次> & 后续") == 2  # the releases table and the timeline, as typed
