"""Evidence on the incident page: several files at once, listed with a thumbnail, size, uploader and sha256; a bad
file named in a sentence next to the field; the same on a 360 px phone without running off the side."""

from __future__ import annotations

import hashlib

import pytest

from tests.helpers import open_over_http, png, signed_in_page

pytestmark = pytest.mark.sqlite_only  # nothing database-specific on the page


@pytest.mark.browser
async def test_files_are_uploaded_from_the_incident_page_on_a_desk_and_on_a_phone(web_desk, browser, tmp_path):
    human_id = await open_over_http(web_desk)
    shot, doc, empty = tmp_path / "微博截图.png", tmp_path / "通报.pdf", tmp_path / "空.png"
    shot.write_bytes(png(1200, 900, "orange"))
    doc.write_bytes(b"%PDF-1.4\n%%EOF\n")
    empty.write_bytes(b"")
    path = f"/incidents/{human_id}"

    ctx, page = await signed_in_page(browser, web_desk.base_url, "duty", path)
    await page.get_by_label("添加文件：截图、文件、照片").set_input_files([shot, doc])
    await page.get_by_role("button", name="上传", exact=True).click()
    await page.wait_for_url("**done=attachments#attachments")
    card = page.locator("#attachments")
    assert await page.locator(".flash.ok").inner_text() == "文件已作为证据保存，并记入时间线。"
    items = card.locator("li.attachment")
    assert await items.count() == 2
    assert await card.locator("a.name", has_text="微博截图.png").is_visible()
    assert hashlib.sha256(shot.read_bytes()).hexdigest() in await items.first.inner_text()
    thumb = card.locator("img").first
    assert await thumb.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320")
    assert await page.locator("#timeline").get_by_text("上传证据附件").count() == 2
    await ctx.close()

    ctx, page = await signed_in_page(browser, web_desk.base_url, "bazhou", path, 360, 740)
    await page.get_by_label("添加文件：截图、文件、照片").set_input_files([empty])
    await page.get_by_role("button", name="上传", exact=True).click()
    await page.wait_for_load_state()
    error = page.locator("#attachments .dropzone .error-text")
    assert await error.inner_text() == "文件“空.png”是空的（0 字节），请重新选择。"
    assert await page.locator("#attachments li.attachment").count() == 2  # nothing half-written
    assert await page.get_by_text("拍照").is_visible()  # the phone's camera
    assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    await ctx.close()
