"""The report PDF as a reader gets it: its Chinese font travels inside the file (an intranet PC without CJK
fonts shows no boxes), a table running over several pages keeps its header on each, a percentage in a narrow
column stays whole, and the pages are numbered."""

from __future__ import annotations

import io

from pypdf import PdfReader

from desk.reports import RATE, TEXT, Column, Document, Section, Table, to_pdf


def test_a_long_table_keeps_its_header_on_every_page_and_its_numbers_whole_with_the_font_embedded():
    rows = [[f"第{n}号单位", 1.0] for n in range(120)]
    doc = Document(title="关于2026年10月政务舆情回应情况的通报", sections=[Section("二、各责任单位及时率排名", [
        Table([Column("责任单位", TEXT, 4), Column("率", RATE, 0.3)], rows)])])
    reader = PdfReader(io.BytesIO(to_pdf(doc)))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for n, said in enumerate(pages, 1):
        assert "责任单位" in said, n  # the header (the rows say 第…号单位), again on each page
        assert f"{n} / {len(pages)}" in said
    said = "\n".join(pages)
    assert "关于2026年10月政务舆情回应情况的通报" in said
    assert said.count("100.0%") == 120 and "第119号单位" in said  # not 100. / 0% on two lines
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descendant = font.get_object()["/DescendantFonts"][0].get_object()
            embedded = {"/FontFile", "/FontFile2", "/FontFile3"} & set(descendant["/FontDescriptor"])
            assert embedded, font  # in the file, not a name for the reader's PC to look up
