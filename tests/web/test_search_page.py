"""The list page's search box: Chinese words and filters, kept in the URL; bad input said on the page."""

from __future__ import annotations

from tests.helpers import open_over_http


async def test_the_search_box_finds_chinese_words_and_keeps_the_filters_in_the_url(web_desk):
    gas = await open_over_http(web_desk, title="某小区燃气泄漏引发网络关注", idempotency_key="web-" + "a" * 20)
    other = await open_over_http(web_desk, title="景区门票价格争议", level="II", idempotency_key="web-" + "b" * 20)
    async with web_desk.client() as http:
        await web_desk.login(http, "duty")
        page = await http.get("/incidents", params={"q": "燃气", "status": "all"})
        assert page.status_code == 200
        assert gas in page.text and other not in page.text
        assert 'value="燃气"' in page.text  # the box shows what was searched
        assert "搜索" in page.text and "发现日期自" in page.text
        assert "?q=%E7%87%83%E6%B0%94&amp;status=open" in page.text  # the status links keep the query

        page = await http.get("/incidents", params={"q": "门票价格争议", "level": "II"})
        assert other in page.text and gas not in page.text
        assert '<option value="II" selected>' in page.text

        page = await http.get("/incidents", params={"q": "门票价格争议", "level": "III"})
        assert other not in page.text and "暂无事件" in page.text


async def test_bad_search_input_is_said_on_the_page(web_desk):
    async with web_desk.client() as http:
        await web_desk.login(http, "duty")
        page = await http.get("/incidents", params={"q": "燃" * 101})
        assert page.status_code == 422
        assert "搜索词过长：最多 100 个字。" in page.text
        page = await http.get("/incidents", params={"detected_from": "2026-03-02", "detected_to": "2026-03-01"})
        assert page.status_code == 422
        assert "结束日期早于开始日期" in page.text
        page = await http.get("/incidents", params={"detected_from": "昨天"})
        assert page.status_code == 422
        assert "请填写日期，例如 2026-11-27。" in page.text


async def test_a_responder_searches_only_its_partys_incidents(web_desk):
    own = await open_over_http(web_desk, title="巴州区燃气泄漏", party="bazhou", idempotency_key="web-" + "c" * 20)
    other = await open_over_http(web_desk, title="恩阳区燃气泄漏", party="enyang", idempotency_key="web-" + "d" * 20)
    async with web_desk.client() as http:
        await web_desk.login(http, "bazhou")
        page = await http.get("/incidents", params={"q": "燃气泄漏", "party": "enyang"})
        assert own not in page.text and other not in page.text
        page = await http.get("/incidents", params={"q": "燃气泄漏"})
        assert own in page.text and other not in page.text
        assert 'id="party"' not in page.text  # no party to choose: a responder sees its own
