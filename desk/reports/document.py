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
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from desk.stats.export import safe_cell
from desk.timefmt import duration_zh

HERE = Path(__file__).resolve().parent
DOCUMENT_CSS = (HERE / "document.css").read_text(encoding="utf-8")
# Chinese in every format: the PDF embeds WenQuanYi Micro Hei (PDF_FONTS); Word and WPS pick the East Asian
# font by name.
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


# --- HTML (the print page) ----------------------------------------------------------------------------

_env = Environment(loader=FileSystemLoader(HERE), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def widths(table: Table) -> list[float]:
    """Each column's share of the width in per cent, when the table gives them."""
    total = sum(c.width for c in table.columns)
    return [round(100 * c.width / total, 2) for c in table.columns] if total and all(c.width for c in table.columns) else []


_env.globals.update(cell_text=cell_text, TEXT=TEXT, widths=widths)
_env.tests.update(paragraph=lambda b: isinstance(b, Paragraph), facts=lambda b: isinstance(b, Facts),
                  entries=lambda b: isinstance(b, Entries))


def html_body(doc: Document) -> Markup:
    """The document as an ``<article>``: the print page embeds it."""
    return Markup(_env.get_template("document.html").render(doc=doc))


# A CJK font with TrueType outlines (fpdf2 subsets and embeds it; Noto CJK's CFF outlines come out with widths
# pypdf and some readers misapply, so copied text gets a space between characters). scripts/system-deps, Dockerfile.
PDF_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
RED = (176, 0, 0)
NO_LINE_START = frozenset("，。、；：？！）》」』】〕,.;:?!)]%")


def _latin(ch: str) -> bool:
    return ch.isascii() and not ch.isspace()


def pdf_font() -> str:
    for path in PDF_FONTS:
        if Path(path).exists():
            return path
    raise RuntimeError(f"no CJK font for the PDF reports: install fonts-wqy-microhei ({PDF_FONTS[0]})")


def to_pdf(doc: Document) -> bytes:
    """A4 PDF drawn straight from the model with fpdf2 (its font subset embedded, so a PC without Chinese fonts
    shows it too): the lines are broken here, by the font's advance widths, and a table's header is drawn again
    on each page it runs onto. Pages are numbered "n / total". About ten times quicker than laying out the
    HTML with WeasyPrint (docs/performance.md)."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_font("zh", size=9)
            self.set_text_color(85)
            self.set_xy(self.l_margin, self.h - 14)
            self.cell(self.epw, 5, f"{self.page_no()} / {{nb}}", align="C")
            self.set_text_color(0)

    pdf = _Pdf(format="A4", unit="mm")
    pdf.set_margins(20, 25, 20)
    pdf.set_auto_page_break(False)
    pdf.add_font("zh", "", pdf_font())
    pdf.set_title(doc.title)
    pdf.set_lang("zh-CN" if doc.lang == "zh" else "en")
    pdf.set_font("zh", size=10.5)
    cw: Any = pdf.current_font.cw  # type: ignore[union-attr]  # a font is set
    k = pdf.k
    left, right, bottom = pdf.l_margin, pdf.w - pdf.r_margin, pdf.h - 22
    width = right - left
    pdf.add_page()
    y = pdf.t_margin

    def measure(s: str, size: float) -> float:
        return sum(cw[ord(c)] for c in s) * size * 0.001 / k

    def wrap(s: str, w: float, size: float) -> list[str]:
        limit = w * k * 1000 / size
        lines = []
        for para in s.split("\n"):
            start, acc, last_space = 0, 0, -1
            for i, ch in enumerate(para):
                cwidth = cw[ord(ch)]
                if acc + cwidth > limit and i > start:
                    cut = last_space + 1 if last_space > start and ord(ch) < 0x2E80 and ch != " " else i
                    while para[cut] in NO_LINE_START and cut - 1 > start:
                        cut -= 1  # a closing mark stays with the character before it
                    word = cut  # nor is a short number or word (90.5%) split, a long one (a link) is
                    while word - 1 > start and cut - word < 12 and _latin(para[word - 1]) and _latin(para[word]):
                        word -= 1
                    if word - 1 > start and cut - word < 12:
                        cut = word
                    lines.append(para[start:cut])
                    start = cut
                    acc = sum(cw[ord(c)] for c in para[start:i])
                    last_space = -1
                if ch == " ":
                    last_space = i
                acc += cwidth
            lines.append(para[start:])
        return lines

    def need(h: float) -> None:
        nonlocal y
        if y + h > bottom:
            pdf.add_page()
            y = pdf.t_margin

    def text(s: str, size: float = 10.5, align: str = "L", bold: bool = False, color=0, lh: float = 1.5) -> None:
        nonlocal y
        pdf.set_font("zh", size=size)
        pdf.set_text_color(*color) if isinstance(color, tuple) else pdf.set_text_color(color)
        if bold:
            pdf.text_mode = "FILL_STROKE"
            pdf.set_draw_color(*color) if isinstance(color, tuple) else pdf.set_draw_color(color)
            pdf.set_line_width(size * 0.01)
        h = size * lh / k
        for line in wrap(s, width, size):
            need(h)
            x = left if align == "L" else (right - measure(line, size) if align == "R"
                                           else left + (width - measure(line, size)) / 2)
            pdf.text(x, y + h * 0.5 + size * 0.35 / k, line)
            y += h
        if bold:
            pdf.text_mode = "FILL"
        pdf.set_text_color(0)
        pdf.set_draw_color(0)

    def table(block: Table) -> None:
        nonlocal y
        size, pad, lh = 9.0, 1.5, 9.0 * 1.3 / k
        total = sum(c.width or 1 for c in block.columns)
        ws = [width * (c.width or 1) / total for c in block.columns]
        right_aligned = [c.kind != TEXT for c in block.columns]
        pdf.set_font("zh", size=size)
        pdf.set_line_width(0.18)
        pdf.set_draw_color(68)

        def row(cells: list[str], fill: bool) -> None:
            nonlocal y
            # Numbers stay on one line (100.0% never splits): a wide one is drawn smaller instead.
            wrapped = [([s] if ra and not fill else wrap(s, w - 2 * pad, size)) if s else []
                       for s, w, ra in zip(cells, ws, right_aligned, strict=True)]
            h = max(1, *(len(ls) for ls in wrapped)) * lh + 2 * 1.0
            if y + h > bottom:
                pdf.add_page()
                y = pdf.t_margin
                if not fill:
                    row(header, True)
            x = left
            if fill:
                pdf.set_fill_color(238)
            for lines, w, ra in zip(wrapped, ws, right_aligned, strict=True):
                pdf.rect(x, y, w, h, style="DF" if fill else "D")
                ty = y + 1.0 + lh * 0.5 + size * 0.35 / k
                for line in lines:
                    if ra:
                        fit = min(size, size * (w - 2 * pad) / max(measure(line, size), 0.01))
                        if fit < size:
                            pdf.set_font_size(fit)
                        pdf.text(x + w - pad - measure(line, fit), ty, line)
                        if fit < size:
                            pdf.set_font_size(size)
                    else:
                        pdf.text(x + pad, ty, line)
                    ty += lh
                x += w
            y += h

        header = [c.label for c in block.columns]
        need(4 * lh + 4)  # the header with a first row under it
        row(header, True)
        for values in block.rows:
            row([cell_text(v, c.kind) for v, c in zip(values, block.columns, strict=True)], False)
        pdf.set_draw_color(0)
        y += 2

    if doc.number:
        text(doc.number, align="C")
        y += 2
    text(doc.title, size=18, align="C", bold=True, color=RED)
    y += 3
    if doc.subtitle:
        text(doc.subtitle, align="C")
        y += 2
    if doc.date:
        text(doc.date, align="R")
        y += 2
        pdf.set_draw_color(*RED)
        pdf.set_line_width(0.6)
        pdf.line(left, y, right, y)
        pdf.set_draw_color(0)
        y += 5
    for sec in doc.sections:
        y += 4
        need(20)
        text(sec.heading, size=13, bold=True)
        y += 1
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                text(block.text)
                y += 1.5
            elif isinstance(block, Facts):
                size = 10.5
                h = size * 1.5 / k
                pdf.set_font("zh", size=size)
                for label, value in block.pairs:
                    lines = wrap(value, width - 32, size)
                    need(h * len(lines))
                    pdf.text(left, y + h * 0.5 + size * 0.35 / k, label)
                    for line in lines:
                        pdf.text(left + 32, y + h * 0.5 + size * 0.35 / k, line)
                        y += h
            elif isinstance(block, Entries):
                if not block.items:
                    text(block.empty, color=68)
                sep = "：" if doc.lang == "zh" else ": "
                size = 9
                h = size * 1.4 / k
                pdf.set_font("zh", size=size)
                pdf.set_line_width(0.1)  # the rule under each entry, and the stroke that makes bold
                for when, what, who, details in block.items:
                    line = f"{when}  {what}" + (f" · {who}" if who else "") + (sep + details if details else "")
                    lines = wrap(line, width, size)
                    need(h * len(lines) + 1)
                    # What happened in bold, as on the page (the lines are slices of the entry, in order).
                    bold_from = len(when) + 2 if "\n" not in line else len(line)
                    bold_to, offset = bold_from + len(what), 0
                    pdf.set_draw_color(0)
                    for ln in lines:
                        x, base = left, y + h * 0.5 + size * 0.35 / k
                        a, b = max(bold_from - offset, 0), max(min(bold_to - offset, len(ln)), 0)
                        for piece, bold in ((ln[:a], False), (ln[a:b], True), (ln[max(a, b):], False)):
                            if piece:
                                pdf.text_mode = "FILL_STROKE" if bold else "FILL"
                                pdf.text(x, base, piece)
                                x += measure(piece, size)
                        pdf.text_mode = "FILL"
                        offset += len(ln)
                        y += h
                    pdf.set_draw_color(204)
                    pdf.line(left, y + 0.4, right, y + 0.4)
                    y += 0.8
                pdf.set_draw_color(0)
            elif not block.rows:
                text(block.empty, color=68)
            else:
                table(block)
    if doc.footer:
        y += 6
        text(doc.footer, size=9, color=68)
    return bytes(pdf.output())


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
