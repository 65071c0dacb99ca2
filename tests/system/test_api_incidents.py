"""Opening incidents and acting on them through the JSON API, against the real dev server."""

from __future__ import annotations

import threading
import traceback
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import event
from sqlmodel import func, select
from temporalio.worker import Replayer

from desk.db import get_engine, session_scope
from desk.models import Incident, Milestone, TimelineEvent
from tests.helpers import eventually, workflow_id
from worker import WORKFLOW_RUNNER, share_workflow_code
from workflows.incident import PATCHES, IncidentWorkflow


def _due(incident: dict, key: str) -> datetime:
    return next(datetime.fromisoformat(m["due_at"]) for m in incident["milestones"] if m["key"] == key)


async def test_extraordinary_incident_gets_press_conference_in_24h_and_release_in_48h(desk):
    detected = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    r = await desk.open(level="I", category="natural_disaster", detected_at=detected.isoformat())
    assert r.status_code == 201, r.text
    incident = r.json()
    assert incident["id"].startswith("YQ-")
    assert _due(incident, "first_release") == detected + timedelta(hours=48)
    assert _due(incident, "press_conference") == detected + timedelta(hours=24)
    assert _due(incident, "acknowledge") == detected + timedelta(hours=1)
    handle = desk.client.get_workflow_handle(workflow_id(desk, incident["id"]))
    desc = await handle.describe()
    assert desc.status.name == "RUNNING"

    async def opened_recorded():
        r = await desk.http.get(f"/api/incidents/{incident['id']}/timeline", headers=desk.auth("duty"))
        return [e["kind"] for e in r.json()["events"] if e["kind"] != "assignment_notified"] == ["opened"]

    await eventually(opened_recorded)


async def test_the_opening_answer_is_the_incident_as_read_back_and_reads_nothing_after_the_commit(desk):
    """The answer to an opening is built from the rows the opening wrote: the same incident a read gives, with
    its milestones, supporting parties and (no) tasks, and not one statement sent after the commit."""
    engine = get_engine(desk.database_url)
    sent: list[str] = []

    def statement(_conn, _cursor, sql, *_args) -> None:
        sent.append(sql.split(None, 1)[0].upper())

    def commit(_conn) -> None:
        sent.append("<COMMIT>")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        r = await desk.open(level="I", category="natural_disaster", supporting=["dept-sthjj", "enyang"])
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert r.status_code == 201, r.text
    assert "<COMMIT>" in sent and sent[sent.index("<COMMIT>") + 1:] == [], sent
    opened = r.json()
    assert [m["key"] for m in opened["milestones"]] == ["acknowledge", "press_conference", "first_release"]
    assert [s["party"]["code"] for s in opened["supporting"]] == ["dept-sthjj", "enyang"]
    read = await desk.http.get(f"/api/incidents/{opened['id']}", headers=desk.auth("duty"))
    assert read.status_code == 200, read.text
    assert opened == read.json()
    # The same Idempotency-Key answers with the incident as read back.
    same = dict(headers={**desk.auth("duty"), "Idempotency-Key": "k-1"},
                json={"title": "同一事件", "category": "accident", "level": "III", "party": "bazhou", "source": "weibo",
                      "supporting": ["enyang"]})
    again = await desk.http.post("/api/incidents", **same)
    replay = await desk.http.post("/api/incidents", **same)
    assert (again.status_code, replay.status_code) == (201, 200)
    assert again.json() == replay.json()


async def test_a_new_incident_records_no_patch_marker_takes_every_patch_and_replays(desk):
    """The API starts a run at the patch level: it takes every patch without asking, so its history has no patch
    marker and no TemporalChangeVersion upsert (two events the server writes for every run), and a worker that
    rebuilds it from that history takes the same branches."""
    r = await desk.open(level="II", supporting=["enyang"])
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    handle = desk.client.get_workflow_handle(workflow_id(desk, iid))

    async def notified():
        r = await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("duty"))
        return "assignment_notified" in [e["kind"] for e in r.json()["events"]]

    await eventually(notified)
    assert await handle.query("patches") == {patch: True for patch in PATCHES}
    history = await handle.fetch_history()
    markers = [e.marker_recorded_event_attributes.marker_name for e in history.events
               if e.HasField("marker_recorded_event_attributes")]
    assert "core_local_activity" in markers and "core_patch" not in markers, markers
    assert not any(e.HasField("upsert_workflow_search_attributes_event_attributes") for e in history.events)
    share_workflow_code()
    replayed = await Replayer(workflows=[IncidentWorkflow], workflow_runner=WORKFLOW_RUNNER).replay_workflow(
        history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure


async def test_general_incident_has_no_press_conference(desk):
    r = await desk.open(level="IV")
    assert r.status_code == 201, r.text
    assert {m["key"] for m in r.json()["milestones"]} == {"acknowledge", "first_release"}


async def test_responder_acknowledges_and_releases_timeline_shows_both(desk):
    incident = (await desk.open()).json()
    iid = incident["id"]
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", json={"note": "已收到"}, headers=desk.auth("bazhou"))
    assert r.status_code == 200, r.text
    assert next(m for m in r.json()["milestones"] if m["key"] == "acknowledge")["state"] == "met"
    r = await desk.http.post(f"/api/incidents/{iid}/releases", headers=desk.auth("bazhou"),
                             json={"channel": "巴州区政府网站", "url": "https://example.gov.cn/a", "summary": "情况通报"})
    assert r.status_code == 200, r.text
    states = {m["key"]: m["state"] for m in r.json()["milestones"]}
    assert states["first_release"] == "met"
    assert states["follow_up"] == "pending"  # 动态发布: the next one is due a day later
    timeline = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("bazhou"))).json()
    # the 【新交办】 message goes out on its own time: the people's actions, in order, around it
    actions = [e for e in timeline["events"] if e["kind"] != "assignment_notified"]
    assert [e["kind"] for e in actions] == ["opened", "acknowledged", "released"]
    assert actions[2]["actor"] == "bazhou"


async def test_an_action_takes_its_connection_from_the_pool_off_the_event_loop(desk):
    """A request's first statement takes a connection from the pool, and waits there when every connection is in
    use (by requests awaiting Temporal with theirs). Done on the event loop, that wait would stop every request in
    flight, the ones holding the connections too, until the pool gave up (30 s): a burst of actions would answer
    500. The dependencies run on the loop since issue 17's eleventh round; the user's read, the first, goes to a
    thread, and nothing later in the action takes another connection."""
    incident = (await desk.open()).json()
    engine = get_engine(desk.database_url)
    loop_thread = threading.get_ident()
    on_loop: list[str] = []

    def checkout(*_args) -> None:
        if threading.get_ident() == loop_thread:
            on_loop.append("".join(traceback.format_stack(limit=12)))

    event.listen(engine, "checkout", checkout)
    try:
        r = await desk.http.post(f"/api/incidents/{incident['id']}/acknowledge", json={"note": "已收到"},
                                 headers=desk.auth("bazhou"))
        read = await desk.http.get(f"/api/incidents/{incident['id']}", headers=desk.auth("bazhou"))
    finally:
        event.remove(engine, "checkout", checkout)
    assert (r.status_code, read.status_code) == (200, 200), r.text
    assert on_loop == [], on_loop[0]


async def test_responder_of_another_party_is_refused_as_if_the_incident_did_not_exist(desk):
    iid = (await desk.open(party="bazhou")).json()["id"]
    unknown = iid[:-6] + "999999"
    for method, path in [("get", ""), ("get", "/timeline"), ("post", "/acknowledge"), ("post", "/notes")]:
        kwargs = {"json": {"text": "x"}} if path == "/notes" else {}
        r = await getattr(desk.http, method)(f"/api/incidents/{iid}{path}", headers=desk.auth("enyang"), **kwargs)
        assert r.status_code == 404, (path, r.text)
        missing = await getattr(desk.http, method)(f"/api/incidents/{unknown}{path}", headers=desk.auth("enyang"),
                                                   **kwargs)
        # The same answer as for a number nobody has: trying ids tells nothing about another party's incidents.
        assert r.json()["detail"].replace(iid, unknown) == missing.json()["detail"], (path, r.text, missing.text)
    listed = (await desk.http.get("/api/incidents", headers=desk.auth("enyang"))).json()
    assert iid not in [i["id"] for i in listed]


async def test_roles_are_enforced(desk):
    iid = (await desk.open()).json()["id"]
    r = await desk.open(who="bazhou")
    assert r.status_code == 403
    r = await desk.http.post(f"/api/incidents/{iid}/level", json={"level": "I", "reason": "升级"},
                             headers=desk.auth("bazhou"))
    assert r.status_code == 403
    r = await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth("duty"))
    assert r.status_code == 403
    r = await desk.http.get("/api/incidents")
    assert r.status_code == 401


def _counts(database_url: str) -> tuple[int, int, int]:
    with session_scope(database_url) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Incident, Milestone, TimelineEvent))


async def test_bad_input_gets_a_clear_4xx_and_writes_nothing(desk):
    before = _counts(desk.database_url)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    cases = [
        ({"detected_at": future}, "detected_at", "发现时间不能晚于当前时间"),
        ({"party": "nowhere"}, "party", "未知的责任单位"),
        ({"title": "   "}, "title", "请填写标题"),
        ({"title": "长" * 201}, "title", "200"),
        ({"summary": "长" * 5001}, "summary", "5000"),
        ({"level": "V"}, "level", ""),
        ({"category": "weather"}, "category", ""),
        ({"source_url": "javascript:alert(1)"}, "source_url", "http"),
    ]
    for fields, field, text in cases:
        r = await desk.open(**fields)
        assert r.status_code == 422, (fields, r.text)
        body = r.json()
        assert any(e["field"] == field and text in e["msg"] for e in body["detail"]), body
    assert _counts(desk.database_url) == before

    iid = (await desk.open()).json()["id"]
    incident = (await desk.http.get(f"/api/incidents/{iid}", headers=desk.auth("duty"))).json()
    before_release = datetime.fromisoformat(incident["detected_at"]) - timedelta(minutes=1)
    r = await desk.http.post(f"/api/incidents/{iid}/releases", json={"released_at": before_release.isoformat()},
                             headers=desk.auth("bazhou"))
    assert r.status_code == 422 and "早于舆情发现时间" in r.text
    r = await desk.http.post(f"/api/incidents/{iid}/releases", json={"released_at": future}, headers=desk.auth("bazhou"))
    assert r.status_code == 422 and "不能晚于当前时间" in r.text
    r = await desk.http.get("/api/incidents/YQ-2026-999999", headers=desk.auth("duty"))
    assert r.status_code == 404
    r = await desk.http.post(f"/api/incidents/{iid}/close", json={}, headers=desk.auth("super"))
    assert r.status_code == 409 and "不能结案" in r.json()["detail"]
    assert r.json()["code"] == "close.blocked"  # the validator's code, for a client to say it in its language
    timeline = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth("duty"))).json()
    assert [e["kind"] for e in timeline["events"] if e["kind"] != "assignment_notified"] == ["opened"]


async def test_idempotency_key_creates_one_incident(desk):
    headers = {**desk.auth("duty"), "Idempotency-Key": "monitor-7781"}
    body = {"title": "网传某校食堂问题", "category": "public_health", "level": "III", "party": "enyang"}
    first = await desk.http.post("/api/incidents", json=body, headers=headers)
    second = await desk.http.post("/api/incidents", json=body, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    with session_scope(desk.database_url) as s:
        assert s.exec(select(func.count()).select_from(Incident)).one() == 1


async def test_ungraded_category_takes_general_clocks(desk):
    r = await desk.open(category="public_opinion", level=None)
    assert r.status_code == 201, r.text
    assert r.json()["level"] == "IV"
    r = await desk.open(category="accident", level=None)
    assert r.status_code == 422


async def test_close_after_milestones_met_then_reopen(desk):
    iid = (await desk.open(level="IV")).json()["id"]
    r = await desk.http.post(f"/api/incidents/{iid}/releases", json={"channel": "政务微博"}, headers=desk.auth("bazhou"))
    assert r.status_code == 200
    r = await desk.http.post(f"/api/incidents/{iid}/close", json={"reason": "处置完毕"}, headers=desk.auth("super"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    r = await desk.http.post(f"/api/incidents/{iid}/releases", json={}, headers=desk.auth("bazhou"))
    assert r.status_code == 409
    r = await desk.http.post(f"/api/incidents/{iid}/reopen", json={"reason": "出现新情况"}, headers=desk.auth("super"))
    assert r.status_code == 200 and r.json()["status"] == "open"


async def test_waive_needs_a_reason_and_allows_closing(desk):
    iid = (await desk.open(level="I", category="natural_disaster")).json()["id"]
    await desk.http.post(f"/api/incidents/{iid}/press-conferences", json={"channel": "新闻发布厅"}, headers=desk.auth("bazhou"))
    r = await desk.http.post(f"/api/incidents/{iid}/waive", json={"milestone": "acknowledge", "reason": " "},
                             headers=desk.auth("super"))
    assert r.status_code == 422
    r = await desk.http.get(f"/api/incidents/{iid}", headers=desk.auth("super"))
    states = {m["key"]: m["state"] for m in r.json()["milestones"]}
    assert states["press_conference"] == "met" and states["first_release"] == "met"  # a press conference is a release
    r = await desk.http.post(f"/api/incidents/{iid}/close", json={}, headers=desk.auth("super"))
    assert r.status_code == 200, r.text


async def test_a_release_recorded_afterwards_counts_at_the_time_it_happened(desk):
    detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=50)
    iid = (await desk.open(level="III", detected_at=detected.isoformat())).json()["id"]
    released = detected + timedelta(hours=47)  # released in time, recorded late
    r = await desk.http.post(f"/api/incidents/{iid}/releases", headers=desk.auth("bazhou"),
                             json={"released_at": released.isoformat(), "channel": "政务微博"})
    assert r.status_code == 200, r.text
    release = next(m for m in r.json()["milestones"] if m["key"] == "first_release")
    assert release["state"] == "met" and datetime.fromisoformat(release["met_at"]) == released
    naive_beijing = (datetime.now(UTC) + timedelta(hours=8, minutes=-5)).replace(tzinfo=None, microsecond=0)
    r = await desk.http.post(f"/api/incidents/{iid}/updates", headers=desk.auth("bazhou"),
                             json={"released_at": naive_beijing.isoformat(), "summary": "处置进展"})
    assert r.status_code == 200, r.text  # a time without a zone is Beijing time
    follow_up = next(m for m in r.json()["milestones"] if m["key"] == "follow_up")
    beijing = timezone(timedelta(hours=8))
    assert datetime.fromisoformat(follow_up["due_at"]) == naive_beijing.replace(tzinfo=beijing) + timedelta(hours=24)
