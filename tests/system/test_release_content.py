"""Releases with their three parts (事实 · 措施 · 结果/进展): recorded in the timeline through the API, counted per
party as the assessment's completeness figure, and templates refused when they name a placeholder that does not
exist (nothing saved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from desk.db import init_db, session_scope
from desk.models import ReleaseTemplate
from desk.release_content import TemplateError
from desk.release_templates import save_template, template_for
from tests.helpers import eventually

PARTS = {"facts": "经核实，某路段发生山体滑坡", "measures": "已封闭道路并组织抢险", "progress": "目前无人员伤亡"}


async def test_releases_keep_their_three_parts_and_the_assessment_counts_the_complete_ones(desk):
    iid = (await desk.open(party="bazhou")).json()["id"]
    r = await desk.http.post(f"/api/incidents/{iid}/releases", headers=desk.auth("bazhou"),
                             json={"channel": "巴州区政府网站", "summary": "情况通报", **PARTS})
    assert r.status_code == 200, r.text
    r = await desk.http.post(f"/api/incidents/{iid}/updates", headers=desk.auth("bazhou"),
                             json={"channel": "政务微博", "facts": "续报：道路已抢通"})
    assert r.status_code == 200, r.text

    async def releases():
        events = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("bazhou"))).json()["events"]
        return [e for e in events if e["kind"] in ("released", "update")]

    recorded = await eventually(lambda: _two(releases))
    assert {k: recorded[0]["payload"].get(k) for k in PARTS} == PARTS
    assert recorded[1]["payload"]["facts"] == "续报：道路已抢通" and "measures" not in recorded[1]["payload"]
    today = datetime.now(UTC).astimezone().date()
    span = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    report = (await desk.http.get("/api/stats", params=span, headers=desk.auth("super"))).json()
    bazhou = next(p for p in report["parties"] if p["party"] == "bazhou")
    assert bazhou["releases"] == {"recorded": 2, "complete": 1, "complete_rate": 0.5}
    assert report["overall"]["releases"]["complete_rate"] == 0.5
    assert any(d["key"] == "release_completeness" for d in report["definitions"])


async def _two(releases):
    found = await releases()
    return found if len(found) == 2 else None


def test_a_template_with_an_unknown_placeholder_is_refused_and_nothing_is_saved(database_url):
    init_db(database_url)
    with session_scope(database_url) as s:
        built_in = template_for(s, "accident")
        assert built_in.built_in and "{title}" in built_in.facts
        with pytest.raises(TemplateError) as refused:
            save_template(s, "accident", {"facts": "{title}", "measures": "{responsible_person}负责", "progress": ""},
                          "admin")
        assert refused.value.params["placeholder"] == "responsible_person"
        s.rollback()
        assert s.exec(select(ReleaseTemplate)).all() == []
        saved = save_template(s, "accident", {"facts": "{title}：经核实……", "measures": "{party}已处置", "progress": "进展"},
                              "admin")
        assert not saved.built_in and saved.updated_by == "admin" and saved.facts == "{title}：经核实……"
