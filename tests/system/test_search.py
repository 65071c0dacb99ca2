"""Search: `GET /api/incidents?q=…` finds Chinese words in the title, summary, notes and release summaries,
with the filters, within what the user may see (both databases: DESK_TEST_DATABASE=postgresql)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import eventually


async def _ids(desk, who: str = "duty", **params) -> list[str]:
    r = await desk.http.get("/api/incidents", params=params, headers=desk.auth(who))
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()]


async def _opened(desk, **fields) -> str:
    r = await desk.open(**fields)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_two_and_six_character_queries_find_title_summary_note_and_release(desk):
    by_title = await _opened(desk, title="城区某路段燃气管道泄漏引发关注", summary="")
    by_summary = await _opened(desk, title="网民反映小区异味", summary="经初步核查为燃气管道泄漏所致，已关阀。")
    by_note = await _opened(desk, title="某商铺起火视频传播", summary="")
    by_release = await _opened(desk, title="学校食堂问题投诉", summary="")
    unrelated = await _opened(desk, title="景区门票价格争议", summary="游客质疑涨价")
    r = await desk.http.post(f"/api/incidents/{by_note}/notes", json={"text": "现场核实：燃气管道泄漏，无人员伤亡"},
                             headers=desk.auth("duty"))
    assert r.status_code == 200, r.text
    r = await desk.http.post(f"/api/incidents/{by_release}/releases", headers=desk.auth("bazhou"),
                             json={"channel": "巴州区政府网站", "summary": "关于燃气管道泄漏的情况通报"})
    assert r.status_code == 200, r.text

    async def found_everywhere():
        return set(await _ids(desk, q="燃气管道泄漏")) == {by_title, by_summary, by_note, by_release}

    await eventually(found_everywhere)
    assert set(await _ids(desk, q="燃气")) == {by_title, by_summary, by_note, by_release}
    assert await _ids(desk, q="门票") == [unrelated]
    assert await _ids(desk, q="票价格争") == [unrelated]
    assert await _ids(desk, q="燃气管道爆炸") == []
    assert len(await _ids(desk)) == 5  # no query: the list as before


async def test_filters_combine_with_the_query(desk):
    old = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    weibo_iii = await _opened(desk, title="燃气泄漏一", level="III", source="weibo")
    hotline_ii = await _opened(desk, title="燃气泄漏二", level="II", source="hotline_12345")
    enyang_old = await _opened(desk, title="燃气泄漏三", party="enyang", source="web", detected_at=old.isoformat())
    await _opened(desk, title="道路积水", level="III", source="weibo")

    assert set(await _ids(desk, q="燃气泄漏")) == {weibo_iii, hotline_ii, enyang_old}
    assert await _ids(desk, q="燃气泄漏", level="II") == [hotline_ii]
    assert await _ids(desk, q="燃气", source="weibo") == [weibo_iii]
    assert await _ids(desk, q="燃气泄漏", party="enyang") == [enyang_old]
    today = datetime.now(UTC).date()
    assert set(await _ids(desk, q="燃气", detected_from=str(today - timedelta(days=1)))) == {weibo_iii, hotline_ii}
    assert await _ids(desk, q="燃气", detected_to=str(today - timedelta(days=2))) == [enyang_old]
    assert await _ids(desk, q="燃气", status="closed") == []
    assert await _ids(desk, q="燃气", party="bazhou", level="III", source="weibo", status="open") == [weibo_iii]


async def test_a_responder_finds_only_its_own_partys_incidents(desk):
    own = await _opened(desk, title="巴州区燃气泄漏", party="bazhou")
    await _opened(desk, title="恩阳区燃气泄漏", party="enyang")

    assert await _ids(desk, "bazhou", q="燃气泄漏") == [own]
    assert await _ids(desk, "bazhou", q="燃气") == [own]
    assert await _ids(desk, "bazhou", q="恩阳区") == []
    assert await _ids(desk, "bazhou", q="燃气", party="enyang") == []


async def test_a_query_with_like_wildcards_or_quotes_is_taken_literally(desk):
    percent = await _opened(desk, title="涨幅达100%的传言")
    await _opened(desk, title="涨幅达1000的传言")

    assert await _ids(desk, q="0%的") == [percent]
    assert await _ids(desk, q="%") == [percent]
    assert await _ids(desk, q='"燃气') == []


async def test_bad_search_input_is_refused_with_a_sentence(desk):
    r = await desk.http.get("/api/incidents", params={"q": "燃" * 101}, headers=desk.auth("duty"))
    assert r.status_code == 422
    assert "最多 100 个字" in r.text
    r = await desk.http.get("/api/incidents", params={"q": "燃气\x00"}, headers=desk.auth("duty"))
    assert r.status_code == 422
    assert "空字符" in r.text
    r = await desk.http.get("/api/incidents", params={"detected_from": "2026-03-02", "detected_to": "2026-03-01"},
                            headers=desk.auth("duty"))
    assert r.status_code == 422
    assert "结束日期早于开始日期" in r.text
    r = await desk.http.get("/api/incidents", params={"detected_from": "昨天"}, headers=desk.auth("duty"))
    assert r.status_code == 422
    # the first and last days a date field takes: midnight in Beijing on 0001-01-01 has no UTC time, and the day
    # after 9999-12-31 none at all (found by test_hostile_input's generated requests: a 500 before)
    for field, day in (("detected_from", "0001-01-01"), ("detected_to", "9999-12-31")):
        r = await desk.http.get("/api/incidents", params={field: day}, headers=desk.auth("duty"))
        assert r.status_code == 422, r.text
        assert "1900-01-01 至 2999-12-31" in r.text and field in r.text


async def test_a_search_comes_in_the_lists_order_and_its_pages_join_up(desk):
    """Open incidents (with a deadline) are read apart from the others (closed: none), and merged: the results
    are in the list's order (the nearest deadline first, then newest first) and pages follow on across the two."""
    ids = [await _opened(desk, title=f"燃气泄漏{n}", level=level) for n, level in enumerate(("IV", "III", "IV", "II", "IV"))]
    await _opened(desk, title="道路积水")
    for iid in (ids[0], ids[2]):
        r = await desk.http.post(f"/api/incidents/{iid}/releases", json={"channel": "政务微博"}, headers=desk.auth("bazhou"))
        assert r.status_code == 200, r.text
        r = await desk.http.post(f"/api/incidents/{iid}/close", json={"reason": "处置完毕"}, headers=desk.auth("super"))
        assert r.status_code == 200, r.text

    async def listed_in_order():
        in_list = [i for i in await _ids(desk) if i in ids]
        return in_list[-2:] == [ids[2], ids[0]] and in_list  # the closed ones last, the newer first

    in_list = await eventually(listed_in_order)
    assert await _ids(desk, q="燃气") == in_list
    assert await _ids(desk, q="燃气泄漏") == in_list
    pages = [await _ids(desk, q="燃气", limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == in_list
