"""A report as plain data (title, 文号, date, sections of facts, paragraphs and tables), written out as an HTML
body (the print page and the PDF), a ``.docx``, a PDF and an ``.xlsx``: one layout, four formats.

Cells keep their values: counts are ints, rates fractions, durations seconds. HTML, Word and PDF write them as
text (rates as 50.0%, durations by the one rule of ``desk.timefmt``); the spreadsheet keeps them numbers, with
a number format, so a supervisor can sort and sum them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from desk.stats.export import safe_cell
from desk.timefmt import duration_zh

HERE = Path(__file__).resolve().parent
DOCUMENT_CSS = (HERE / "document.css").read_text(encoding="utf-8")
# Chinese in every format: the PDF draws with one of these (fonts-noto-cjk or WenQuanYi, scripts/system-deps);
# Word and WPS pick the East Asian font by name.
DOCX_FONT_ZH = "宋体"
DOCX_FONT = "Times New Roman"

TEXT, COUNT, RATE, HOURS = "text", "count", "rate", "hours"


@dataclass
class Column:
    label: str
    kind: str = TEXT  # text | count | rate (a fraction) | hours (seconds, shown as a duration)
    width: float = 0.0  # share of the table's width in the PDF and Word; 0: the renderer decides


@dataclass
class Table:
    columns: list[Column]
    rows: list[list]
    empty: str = ""  # said instead of the table when it has no rows
    sheet: str = ""  # the spreadsheet's tab; a table without one stays out of the .xlsx


@dataclass
class Facts:
    pairs: list[tuple[str, str]]


@dataclass
class Paragraph:
    text: str


@dataclass
class Entries:
    """A long record read from top to bottom (the timeline): one short block per entry, not a table, so that
    a thousand of them stay quick to lay out in the PDF."""

    items: list[tuple[str, str, str, str]]  # (when, what, who, details)
    empty: str = ""


Block = Table | Facts | Paragraph | Entries


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    sections: list[Section]
    subtitle: str = ""
    number: str = ""  # 文号 (a placeholder the office fills in)
    date: str = ""
    lang: str = "zh"
    footer: str = ""
    filename: str = "report"  # without the extension


def cell_text(value: object, kind: str) -> str:
    """A cell as people read it (a duration the review words in the viewer's language is text already)."""
    if value is None or value == "":
        return "—" if kind != TEXT else ""
    if kind == RATE:
        return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]
    if kind == HOURS:
        return duration_zh(float(value))  # type: ignore[arg-type]
    return str(value)


# --- HTML (the page and the PDF) ----------------------------------------------------------------------------

_env = Environment(loader=FileSystemLoader(HERE), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def widths(table: Table) -> list[float]:
    """Each column's share of the width in per cent, when the table gives them."""
    total = sum(c.width for c in table.columns)
    return [round(100 * c.width / total, 2) for c in table.columns] if total and all(c.width for c in table.columns) else []


_env.globals.update(cell_text=cell_text, TEXT=TEXT, widths=widths)
_env.tests.update(paragraph=lambda b: isinstance(b, Paragraph), facts=lambda b: isinstance(b, Facts),
                  entries=lambda b: isinstance(b, Entries))


def html_body(doc: Document) -> Markup:
    """The document as an ``<article>``: the page embeds it, the PDF wraps it."""
    return Markup(_env.get_template("document.html").render(doc=doc))


def html_page(doc: Document) -> str:
    lang = "zh-CN" if doc.lang == "zh" else "en"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{Markup.escape(doc.title)}'
            f"</title></head><body>{html_body(doc)}</body></html>")


def to_pdf(doc: Document) -> bytes:
    """A4 PDF through WeasyPrint (needs pango and a CJK font from Debian: scripts/system-deps)."""
    from weasyprint import CSS, HTML  # imported when first used: it loads pango

    return HTML(string=html_page(doc)).write_pdf(stylesheets=[CSS(string=DOCUMENT_CSS)], presentational_hints=True)


# --- Word ---------------------------------------------------------------------------------------------------


def to_docx(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    out = Docx()
    section = out.sections[0]
    section.page_width, section.page_height, section.orientation = Cm(21), Cm(29.7), WD_ORIENT.PORTRAIT
    section.top_margin = section.bottom_margin = Cm(2.5)
    section.left_margin = section.right_margin = Cm(2.2)
    usable = Cm(21 - 4.4)
    for name in ("Normal", "Title", "Heading 1", "Table Grid"):
        style = out.styles[name]
        style.font.name = DOCX_FONT
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), DOCX_FONT_ZH)
    out.styles["Normal"].font.size = Pt(10.5)

    def paragraph(text: str, *, size: float | None = None, bold: bool = False, align=None) -> None:  # noqa: ANN001
        p = out.add_paragraph()
        run = p.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)
        if align is not None:
            p.alignment = align

    if doc.number:
        paragraph(doc.number, align=WD_ALIGN_PARAGRAPH.CENTER)
    title = out.add_heading(doc.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if doc.subtitle:
        paragraph(doc.subtitle, align=WD_ALIGN_PARAGRAPH.CENTER)
    if doc.date:
        paragraph(doc.date, align=WD_ALIGN_PARAGRAPH.RIGHT)
    for sec in doc.sections:
        out.add_heading(sec.heading, level=1)
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                paragraph(block.text)
            elif isinstance(block, Facts):
                table = out.add_table(rows=len(block.pairs), cols=2)
                table.style = "Table Grid"
                for (label, value), row in zip(block.pairs, table.rows, strict=True):
                    row.cells[0].text, row.cells[1].text = label, value
                    row.cells[0].paragraphs[0].runs[0].bold = True
                    row.cells[0].width, row.cells[1].width = Cm(3.5), usable - Cm(3.5)
            elif isinstance(block, Entries):
                # One parse for all the entries, put in before the body's end: python-docx adds a run with
                # several lookups per element (seconds at a thousand entries).
                xml = "".join("<w:p>" + _run(when + "  ") + _run(what, bold=True) + (_run(" · " + who) if who else "")
                              + (_run("\n" + details, size=9) if details else "") + "</w:p>"
                              for when, what, who, details in block.items)
                _append_body(out.element.body, _parse_children(xml))
                if not block.items:
                    paragraph(block.empty)
            elif not block.rows:
                paragraph(block.empty)
            else:
                _docx_table(out, block, usable, WD_TABLE_ALIGNMENT.CENTER)
    if doc.footer:
        paragraph(doc.footer, size=9)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def _docx_table(out, block: Table, usable, center) -> None:  # noqa: ANN001 (python-docx objects)
    table = out.add_table(rows=1, cols=len(block.columns))
    table.style = "Table Grid"
    table.alignment = center
    header = table.rows[0].cells
    total = sum(c.width for c in block.columns)
    for cell, column in zip(header, block.columns, strict=True):
        cell.text = column.label
        cell.paragraphs[0].runs[0].bold = True
        if total:
            cell.width = int(usable * column.width / total)
    # The rows are written as XML text and parsed at once (each cell's paragraph gets the header cell's width):
    # python-docx's add_row and cell.text take several lookups per element, seconds at thousands of cells.
    cell_props = [_xml_of(tc.tcPr) if tc.tcPr is not None else "" for tc in table.rows[0]._tr.tc_lst]
    xml = "".join("<w:tr>" + "".join(
        f"<w:tc>{props}<w:p>{_run(text) if (text := cell_text(value, column.kind)) else ''}</w:p></w:tc>"
        for props, value, column in zip(cell_props, values, block.columns, strict=True)) + "</w:tr>"
        for values in block.rows)
    table._tbl.extend(_parse_children(xml))


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # no XML document may hold these


def _run(text: str, *, bold: bool = False, size: float | None = None) -> str:
    """A run as WordprocessingML, like python-docx writes ``run.text`` (a line break as ``<w:br/>``, a tab as
    ``<w:tab/>``), bold and size (points) as run properties."""
    props = ("<w:b/>" if bold else "") + (f'<w:sz w:val="{round(size * 2)}"/>' if size else "")
    parts = []
    for i, line in enumerate(_NOT_XML.sub("", text).split("\n")):
        if i:
            parts.append("<w:br/>")
        for j, piece in enumerate(line.split("\t")):
            if j:
                parts.append("<w:tab/>")
            if piece:
                parts.append(f'<w:t xml:space="preserve">{escape(piece)}</w:t>')
    return "<w:r>" + (f"<w:rPr>{props}</w:rPr>" if props else "") + "".join(parts) + "</w:r>"


def _xml_of(element) -> str:  # noqa: ANN001 (an lxml element)
    """An element as text without its namespace declarations (the fragment it goes into declares ``w``)."""
    from lxml import etree  # type: ignore[import-untyped]

    return re.sub(r' xmlns:\w+="[^"]*"', "", etree.tostring(element, encoding="unicode"))


def _parse_children(xml: str) -> list:
    """The elements of a WordprocessingML fragment, parsed at once (python-docx's element classes)."""
    from docx.oxml.parser import parse_xml

    return list(parse_xml(f'<w:body xmlns:w="{_W_NS}">{xml}</w:body>'))


def _append_body(body, elements: list) -> None:  # noqa: ANN001 (python-docx's body element)
    """Elements at the end of the document's body, before its section properties."""
    last = body[-1] if len(body) else None
    if last is not None and last.tag == f"{{{_W_NS}}}sectPr":
        for element in elements:
            last.addprevious(element)
    else:
        body.extend(elements)


# --- Excel --------------------------------------------------------------------------------------------------

NUMBER_FORMATS = {COUNT: "0", RATE: "0.0%", HOURS: "0.00"}


def to_xlsx(doc: Document) -> bytes:
    """One sheet per table that names one: the title on top, then the header, then numbers as numbers
    (rates as fractions shown as percentages, durations in hours)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sec in doc.sections:
        for block in sec.blocks:
            if not isinstance(block, Table) or not block.sheet:
                continue
            sheet = book.create_sheet(block.sheet[:31])
            sheet.append([doc.title])
            sheet["A1"].font = Font(bold=True, size=14)
            sheet.append([doc.subtitle or sec.heading])
            sheet.append([c.label for c in block.columns])
            for cell in sheet[3]:
                cell.font = Font(bold=True)
                cell.alignment = Alignment(horizontal="center")
            for values in block.rows:
                sheet.append([_xlsx_value(v, c.kind) for v, c in zip(values, block.columns, strict=True)])
            if not block.rows:
                sheet.append([block.empty])
            for i, column in enumerate(block.columns, 1):
                letter = get_column_letter(i)
                if column.kind in NUMBER_FORMATS:
                    for (cell,) in sheet.iter_rows(min_row=4, min_col=i, max_col=i):
                        cell.number_format = NUMBER_FORMATS[column.kind]
                sheet.column_dimensions[letter].width = max(8, min(40, 2 * len(column.label) + 4))
            sheet.freeze_panes = "A4"
    if not book.sheetnames:
        book.create_sheet("说明" if doc.lang == "zh" else "Notes").append([doc.title])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: object, kind: str) -> object:
    if value is None or value == "":
        return None
    if kind == HOURS:
        return round(float(value) / 3600, 2)  # type: ignore[arg-type]
    if kind in (COUNT, RATE):
        return value
    return safe_cell(str(value))  # typed by people: never a formula
