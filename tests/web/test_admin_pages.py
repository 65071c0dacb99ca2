"""The admin pages in the browser: an administrator adds a liaison (a weak password is refused next to its
field, nothing saved), gives the party a notification channel, checks it with a test message and finds both
in the audit log."""

from __future__ import annotations

import pytest

from desk.channels import TEST_TITLE
from tests.helpers import signed_in_page

# What these pages show does not depend on the database: the PostgreSQL pass of `make test` skips them.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.browser]


async def test_an_admin_adds_a_liaison_and_a_channel_tests_it_and_finds_both_in_the_audit_log(
        web_desk, browser, receiver):
    ctx, page = await signed_in_page(browser, web_desk.base_url, "admin", "/admin/users")
    form = page.locator("form[action='/admin/users']")
    await form.get_by_label("用户名").fill("nanjiang")
    await form.get_by_label("姓名").fill("南江县联络员")
    await form.get_by_label("角色").select_option("responder")
    await form.get_by_label("责任单位").select_option(label="南江县人民政府")
    await form.get_by_label("密码").fill("12345678")
    await form.get_by_role("button", name="添加用户").click()
    await page.wait_for_load_state()
    assert "密码太弱" in await page.locator("#password-error").inner_text()
    assert await page.get_by_role("cell", name="nanjiang").count() == 0  # nothing saved
    form = page.locator("form[action='/admin/users']")
    assert await form.get_by_label("用户名").input_value() == "nanjiang"  # what was typed stays
    await form.get_by_label("密码").fill("river-bank-77")
    await form.get_by_role("button", name="添加用户").click()
    await page.wait_for_load_state()
    assert "已添加用户" in await page.get_by_role("status").inner_text()
    assert await page.get_by_role("link", name="nanjiang").count() == 1

    await page.get_by_role("link", name="通知渠道").first.click()
    form = page.locator("form[action='/admin/channels']")
    await form.get_by_label("责任单位").select_option(label="南江县人民政府")
    await form.get_by_label("备注名").fill("南江县值班群")
    await form.get_by_label("通知地址").fill(f"json://desk:key-0042@127.0.0.1:{receiver.port}/nanjiang-office")
    await form.get_by_role("button", name="添加渠道").click()
    await page.wait_for_load_state()
    row = page.get_by_role("row").filter(has_text="南江县值班群")
    assert "key-0042" not in await page.locator("main").inner_text()
    await row.get_by_role("button", name="发送测试消息").click()
    await page.wait_for_load_state()
    assert "已送达" in await page.locator("#test-result").inner_text()
    assert [m.title for m in receiver.tagged("nanjiang-office")] == [TEST_TITLE]

    await page.get_by_role("link", name="审计日志").first.click()
    await page.wait_for_load_state()
    log = await page.locator("#audit").inner_text()
    assert all(what in log for what in ("添加用户", "添加渠道", "发送测试消息", "登录成功"))
    await ctx.close()
