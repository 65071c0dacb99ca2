"""Duplicates and related incidents (SPEC §9), through the JSON API on the real worker and database (SQLite, and
PostgreSQL with DESK_TEST_DATABASE=postgresql): the likely duplicates of a title, linking, merging, the refusals
that leave nothing written, and the assessment counting a merged topic once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from desk.db import session_scope
from desk.models import Incident, IncidentLink, TimelineEvent
from desk.timefmt import SHANGHAI
from desk.vocab import SYSTEM
from tests.helpers import eventually


def _ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def _events(database_url: str, human_id: str) -> list[TimelineEvent]:
    with session_scope(database_url) as s:
        incident = s.exec(select(Incident).where(Incident.human_id == human_id)).one()
        return list(s.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                           .order_by(TimelineEvent.seq)).all())


def _people(database_url: str, human_id: str) -> int:
    """How many events people's actions wrote (the ladder writes its own on its own time)."""
    return sum(e.actor != SYSTEM for e in _events(database_url, human_id))


def _kinds(database_url: str, human_id: str) -> list[str]:
    return [e.kind for e in _events(database_url, human_id)]


async def test_a_reworded_report_finds_the_incident_and_links_to_it_without_touching_the_clocks(desk):
    duty = desk.auth("duty")
    first = (await desk.open(title="巴州区某小区燃气爆炸", summary="网友发帖称小区发生燃气爆炸，有人受伤")).json()
    await desk.open(title="恩阳区道路塌陷", party="enyang")
    old = (await desk.open(title="巴州区燃气爆炸旧闻", detected_at=_ago(days=20))).json()

    r = await desk.http.get("/api/incidents/similar", params={"title": "燃气泄漏引发爆炸"}, headers=duty)
    assert r.status_code == 200, r.text
    assert [row["id"] for row in r.json()] == [first["id"]]  # not the road, not the one of 20 days ago
    assert r.json()[0]["party"] == "巴州区人民政府" and r.json()[0]["status"] == "open"
    short = await desk.http.get("/api/incidents/similar", params={"title": "燃气"}, headers=duty)
    assert first["id"] in [row["id"] for row in short.json()] and old["id"] not in [row["id"] for row in short.json()]
    assert (await desk.http.get("/api/incidents/similar", params={"title": "燃"}, headers=duty)).json() == []

    second = (await desk.open(title="燃气泄漏引发爆炸", source="hotline_12345")).json()
    before = {m["key"]: (m["due_at"], m["state"]) for m in second["milestones"]}
    r = await desk.http.post(f"/api/incidents/{second['id']}/links", json={"other": first["id"].lower()},
                             headers=duty)
    assert r.status_code == 200, r.text
    assert {m["key"]: (m["due_at"], m["state"]) for m in r.json()["milestones"]} == before
    for one, other in ((first, second), (second, first)):  # both sides show it
        got = (await desk.http.get(f"/api/incidents/{one['id']}", headers=duty)).json()
        assert got["related"] == [other["id"]] and got["status"] == "open"
    assert _kinds(desk.database_url, second["id"]).count("linked") == 1

    # Refused, with a sentence, and nothing written: again (either way round), itself, an unknown number.
    seen = _people(desk.database_url, second["id"])
    for iid, other, status, words in ((first["id"], second["id"], 409, "已与本事件关联"),
                                      (second["id"], second["id"], 422, "不能把事件与它自己关联"),
                                      (second["id"], "YQ-2026-999999", 422, "没有编号为 YQ-2026-999999")):
        r = await desk.http.post(f"/api/incidents/{iid}/links", json={"other": other}, headers=duty)
        assert r.status_code == status and words in r.text, r.text
    r = await desk.http.post(f"/api/incidents/{second['id']}/links", json={"other": "not a number"}, headers=duty)
    assert r.status_code == 422
    assert _people(desk.database_url, second["id"]) == seen
    with session_scope(desk.database_url) as s:
        assert len(s.exec(select(IncidentLink)).all()) == 1


async def test_merging_closes_the_duplicate_stops_its_clocks_and_the_topic_counts_once(desk):
    duty, sup = desk.auth("duty"), desk.auth("super")
    survivor = (await desk.open(title="通江县暴雨致山体滑坡")).json()
    # The same topic reported three days ago from Weibo: its acknowledgement and release are already missed.
    late = (await desk.open(title="通江山体滑坡", detected_at=_ago(days=3), source="weibo")).json()
    closed = (await desk.open(title="通江县山体滑坡旧帖")).json()
    assert (await desk.http.post(f"/api/incidents/{closed['id']}/releases", json={}, headers=desk.auth("bazhou"))
            ).status_code == 200
    assert (await desk.http.post(f"/api/incidents/{closed['id']}/close", json={}, headers=sup)).status_code == 200

    # Itself, a closed incident, an unknown one: a sentence on the field, 4xx, nothing written.
    seen = _people(desk.database_url, late["id"])
    for into, words in ((late["id"], "不能把事件合并到它自己"), (closed["id"], "已结案，不能并入已结案的事件"),
                        ("YQ-2026-999999", "没有编号为 YQ-2026-999999")):
        r = await desk.http.post(f"/api/incidents/{late['id']}/merge", json={"into": into}, headers=duty)
        assert r.status_code == 422 and words in r.text, r.text
    assert _people(desk.database_url, late["id"]) == seen
    assert (await desk.http.get(f"/api/incidents/{late['id']}", headers=duty)).json()["status"] == "open"

    r = await desk.http.post(f"/api/incidents/{late['id']}/merge", json={"into": survivor["id"], "reason": "同一话题"},
                             headers=duty)
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["status"] == "closed" and merged["merged_into"] == survivor["id"]
    states = {m["key"]: m["state"] for m in merged["milestones"]}
    assert states["acknowledge"] == "overdue" and states["first_release"] == "overdue"  # missed stays missed
    assert "follow_up" not in states
    assert "merged" in _kinds(desk.database_url, late["id"])  # (a breach message already on its way may follow)

    # The survivor's timeline says so (told by the merged one's workflow), and lists it; its clocks run on.
    await eventually(lambda: "merged_from" in _kinds(desk.database_url, survivor["id"]))
    entry = next(e for e in _events(desk.database_url, survivor["id"]) if e.kind == "merged_from")
    assert entry.payload["from"] == late["id"] and entry.actor == "duty"
    got = (await desk.http.get(f"/api/incidents/{survivor['id']}", headers=duty)).json()
    assert got["merged_from"] == [late["id"]] and got["status"] == "open"
    assert {m["state"] for m in got["milestones"]} == {"pending"}
    # The merged incident's own timeline stays readable.
    r = await desk.http.get(f"/api/incidents/{late['id']}/timeline", headers=duty)
    assert [e["kind"] for e in r.json()["events"]][0] == "opened"

    # Merged for good: no reopening, no second merge; a new report no longer lists it, only the survivor.
    r = await desk.http.post(f"/api/incidents/{late['id']}/reopen", json={"reason": "误并"}, headers=sup)
    assert r.status_code == 409 and f"已并入 {survivor['id']}" in r.json()["detail"]
    r = await desk.http.post(f"/api/incidents/{late['id']}/merge", json={"into": closed["id"]}, headers=duty)
    assert r.status_code == 422
    r = await desk.http.post(f"/api/incidents/{closed['id']}/merge", json={"into": survivor["id"]}, headers=duty)
    assert r.status_code == 409 and "已结案" in r.json()["detail"]  # a closed incident cannot be merged either
    similar = (await desk.http.get("/api/incidents/similar", params={"title": "通江山体滑坡"}, headers=duty)).json()
    assert late["id"] not in [row["id"] for row in similar] and survivor["id"] in [row["id"] for row in similar]

    # The assessment: two incidents (the survivor and the closed one), not three; the merged one's missed
    # deadlines still count against its party.
    today = datetime.now(SHANGHAI).date()
    r = await desk.http.get("/api/stats", params={"from": (today - timedelta(days=5)).isoformat(),
                                                  "to": today.isoformat()}, headers=sup)
    overall = r.json()["overall"]
    assert overall["incidents"] == 2
    assert overall["overdue"] == 2 and overall["met"] == 2  # late's two misses; closed's two met on time
