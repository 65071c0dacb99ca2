"""Reports (SPEC §10): the post-incident review (复盘报告) and the assessment 通报, as bytes.

- ``document``: a report as plain data, written as an HTML body (the print page, the PDF's source), ``.docx``
  (python-docx), PDF (fpdf2, A4, drawn from the model) and ``.xlsx`` (openpyxl, numbers as numbers);
- ``review``: what SQL knows about one incident (level history, parties, milestones, releases, deliveries
  per tag, attachments), in codes: the page words it in the viewer's language (api/web/reports.py);
- ``bulletin``: the 通报 of a month or quarter, in Chinese, from the assessment's own figures.
"""

from desk.reports.bulletin import ReportPeriod, bulletin, missed_deadlines, report_period
from desk.reports.document import (
    COUNT,
    DOCUMENT_CSS,
    HOURS,
    RATE,
    TEXT,
    Column,
    Document,
    Entries,
    Facts,
    Paragraph,
    Section,
    Table,
    html_body,
    to_docx,
    to_pdf,
    to_xlsx,
)
from desk.reports.review import ReviewRecord, review_record

FORMATS = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "pdf": "application/pdf",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def render(doc: Document, fmt: str) -> bytes:
    """The document as ``docx``, ``pdf`` or ``xlsx`` bytes."""
    return {"docx": to_docx, "pdf": to_pdf, "xlsx": to_xlsx}[fmt](doc)


__all__ = [
    "COUNT", "DOCUMENT_CSS", "FORMATS", "HOURS", "RATE", "TEXT", "Column", "Document", "Entries", "Facts", "Paragraph",
    "ReportPeriod", "ReviewRecord", "Section", "Table", "bulletin", "html_body", "missed_deadlines", "render",
    "report_period", "review_record", "to_docx", "to_pdf", "to_xlsx",
]
