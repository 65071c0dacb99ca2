"""Who may do what: every role × every API route and action, plus the guards around logging in.

The matrix is data: for each route, the roles allowed. "Allowed" means the request got past
authentication and authorisation (it may still be refused for the incident's state: 409/422);
"denied" means 401 (not logged in) or 403, with a message, and nothing written to the timeline.
A responder of another party whose role could use the route is "hidden from": it gets the 404 of an
incident that does not exist (same message), so ids tell it nothing; the timeline is unchanged as well.
The list of routes is checked against the app's own OpenAPI document, so a new route cannot slip in
without a line here.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from api.auth import Tokens
from api.ratelimit import MAX_FAILURES, WINDOW_SECONDS, LoginLimiter
from desk.db import session_scope
from desk.models import Incident, TimelineEvent, User
from desk.users import create_user
from tests.helpers import PASSWORD, TEST_SECRET_KEY, csrf_of, eventually, make_settings, page_login, pages_app, png

ANON, DUTY, OWN, OTHER, SUPER, ADMIN = "anonymous", "duty", "bazhou", "enyang", "super", "admin"
ROLES = (ANON, DUTY, OWN, OTHER, SUPER, ADMIN)
SIGNED_IN = {DUTY, OWN, OTHER, SUPER, ADMIN}
PUBLIC = set(ROLES)
SEES_INCIDENT = SIGNED_IN - {OTHER}  # a responder of another party may not see it
RESPONDS = {OWN, SUPER, ADMIN}
SUPERVISES = {SUPER, ADMIN}
CITY_DUTY = {DUTY, SUPER, ADMIN}  # the roster is read, and shifts handed over, by the city's duty side

I = "/api/incidents/{human_id}"  # noqa: E741 (reads like the path it stands for)
A = I + "/attachments/{key}"
# (method, OpenAPI path, JSON body or form, roles allowed)
MATRIX = [
    ("post", "/api/auth/token", {"form": True}, PUBLIC),
    ("get", "/api/incidents", None, SIGNED_IN),
    ("post", "/api/incidents", {"title": "授权矩阵", "category": "accident", "level": "III", "party": "bazhou"},
     {DUTY, SUPER, ADMIN}),
    ("get", "/api/incidents/similar", None, {DUTY, SUPER, ADMIN}),
    ("get", I, None, SEES_INCIDENT),
    ("get", I + "/timeline", None, SEES_INCIDENT),
    ("post", I + "/notes", {"text": "授权矩阵备注"}, SEES_INCIDENT),
    ("post", I + "/acknowledge", {}, RESPONDS),
    ("post", I + "/releases", {"channel": "政府网站"}, RESPONDS),
    ("post", I + "/press-conferences", {}, RESPONDS),
    ("post", I + "/updates", {"summary": "进展"}, RESPONDS),
    ("post", I + "/urges", {"text": "请按时发布"}, SUPERVISES),
    ("post", I + "/reassign", {"party": "bazhou", "reason": "同一单位"}, SUPERVISES),
    ("post", I + "/level", {"level": "III", "reason": "同一级别"}, SUPERVISES),
    ("post", I + "/waive", {"milestone": "first_release", "reason": "矩阵"}, SUPERVISES),
    ("post", I + "/close", {"reason": "矩阵"}, SUPERVISES),
    ("post", I + "/reopen", {"reason": "矩阵"}, SUPERVISES),
    # Files follow the incident's visibility; a file is withdrawn by its uploader (the party's responder here) or a
    # supervisor.
    ("get", I + "/attachments", None, SEES_INCIDENT),
    ("post", I + "/attachments", {"files": True}, SEES_INCIDENT),
    ("get", A, None, SEES_INCIDENT),
    ("get", A + "/thumbnail", None, SEES_INCIDENT),
    ("post", A + "/withdraw", {"reason": "矩阵"}, {OWN, SUPER, ADMIN}),
    ("post", I + "/links", {"other": "{human_id}"}, {DUTY, SUPER, ADMIN}),  # itself: refused (422) when allowed
    ("post", I + "/merge", {"into": "{human_id}"}, {DUTY, SUPER, ADMIN}),
    ("post", I + "/tasks", {"party": "bazhou", "text": "矩阵督办事项", "due_at": "2099-01-01T09:00:00+08:00"}, RESPONDS),
    ("post", I + "/task-results", {"task": 1, "note": "已办结"}, RESPONDS),
    ("post", I + "/supporting-parties", {"party": "dept-wjw"}, SUPERVISES),
    ("get", "/api/parties", None, SIGNED_IN),
    ("get", "/api/board", None, {DUTY, SUPER, ADMIN}),
    ("get", "/api/stats", None, SUPERVISES),
    ("get", "/api/stats.csv", None, SUPERVISES),
    ("get", "/api/roster", None, CITY_DUTY),
    ("post", "/api/roster/import", {"file": ("值班表.csv", "日期,开始时间,结束时间,单位,值班人员\n".encode())}, SUPERVISES),
    ("post", "/api/roster/shifts", {"party": "bazhou", "person": "bazhou", "starts_at": "2030-01-01T08:00:00",
                                    "ends_at": "2030-01-01T20:00:00"}, SUPERVISES),
    ("post", "/api/roster/shifts/{shift_id}/remove", {}, SUPERVISES),
    ("get", "/api/handovers", None, CITY_DUTY),
    ("get", "/api/handovers/draft", None, CITY_DUTY),
    ("post", "/api/handovers", {"incoming": "super", "remarks": "授权矩阵交班"}, CITY_DUTY),
    ("get", "/api/handovers/{handover_id}", None, CITY_DUTY),
    ("post", "/api/handovers/{handover_id}/confirm", {}, CITY_DUTY),
    ("get", "/healthz", None, PUBLIC),
    ("get", "/readyz", None, PUBLIC),
    ("get", "/metrics", None, set()),  # Prometheus's token only (test_security.py); no user's login reads it
]


# Messages the workflow sends on its own time (【新交办】, an urge's delivery) write their events whenever they
# are done; what a request did or did not do is the rest of the timeline.
OWN_TIME = ("assignment_notified", "urge_sent")


def timeline_len(database_url: str, human_id: str) -> int:
    with session_scope(database_url) as s:
        incident = s.exec(select(Incident).where(Incident.human_id == human_id)).one()
        return len(s.exec(select(TimelineEvent.id).where(TimelineEvent.incident_id == incident.id,
                                                         TimelineEvent.kind.not_in(OWN_TIME))).all())


async def test_every_role_on_every_route(desk):
    documented = {(m, p) for p, ops in desk.http._transport.app.openapi()["paths"].items() for m in ops}
    assert documented == {(m, p) for m, p, _, _ in MATRIX}, "a route without a line in the authorization matrix"
    iid = (await desk.open(title="授权矩阵中的事件", party="bazhou")).json()["id"]
    r = await desk.http.post(f"/api/incidents/{iid}/attachments", headers=desk.auth(OWN),
                             files={"files": ("截图.png", png(), "image/png")})
    key = r.json()[0]["key"]
    shift = await desk.http.post("/api/roster/shifts", headers=desk.auth(ADMIN), json={
        "party": "enyang", "person": "enyang", "starts_at": "2030-02-01T08:00:00", "ends_at": "2030-02-01T20:00:00"})
    handed = await desk.http.post("/api/handovers", headers=desk.auth(SUPER), json={"incoming": "duty"})
    assert shift.status_code == 201 and handed.status_code == 201, (shift.text, handed.text)
    ids = {"{human_id}": iid, "{shift_id}": str(shift.json()["id"]), "{handover_id}": str(handed.json()["id"]),
           "{key}": key}

    cases, failures = 0, []
    for method, path, body, allowed in MATRIX:
        for role in ROLES:
            headers = desk.auth(role) if role != ANON else {}
            url = path
            for placeholder, value in ids.items():
                url = url.replace(placeholder, value)
            before = timeline_len(desk.database_url, iid)
            if body and body.get("form"):
                r = await desk.http.post(url, data={"username": "duty", "password": PASSWORD})
            elif body and body.get("files"):  # a new picture each time: a repeat would be refused as one (409)
                r = await desk.http.post(url, headers=headers,
                                         files={"files": (f"{role}.png", png(color=f"#{cases:06x}"), "image/png")})
            elif body and "file" in body:
                r = await desk.http.post(url, files={"file": body["file"]}, headers=headers)
            elif method == "post":
                sent = {k: v.replace("{human_id}", iid) if isinstance(v, str) else v for k, v in body.items()}
                r = await desk.http.post(url, json=sent, headers=headers)
            else:
                r = await desk.http.get(url, headers=headers)
            cases += 1
            hidden = role == OTHER and OWN in allowed and "{human_id}" in path  # its role may, its party may not
            denied = r.status_code in (401, 403) or (hidden and r.status_code == 404)
            expected_denied = role not in allowed
            problem = None
            if r.status_code >= 500:
                problem = "server error"
            elif denied != expected_denied:
                problem = "denied" if denied else "allowed"
            elif denied:
                detail = r.json().get("detail", "")
                if not detail or (role == ANON) != (r.status_code == 401):
                    problem = f"denied without a proper answer ({r.status_code} {detail!r})"
                elif hidden and (r.status_code, detail) != (404, f"没有编号为 {iid} 的舆情事件。"):
                    problem = f"another party's incident must look like no incident ({r.status_code} {detail!r})"
                elif timeline_len(desk.database_url, iid) != before:
                    problem = "denied, yet the timeline changed"
            if problem:
                failures.append(f"{role:9} {method.upper()} {path}: {problem} ({r.status_code} {r.text[:120]})")
    print(f"\nauthorization matrix: {cases} cases ({len(MATRIX)} routes × {len(ROLES)} roles), "
          f"{len(failures)} failures")
    assert cases == len(MATRIX) * len(ROLES)
    assert failures == [], "\n".join(failures)


async def test_responders_only_list_their_own_partys_incidents(desk):
    await desk.open(title="巴州区的事件", party="bazhou")
    await desk.open(title="恩阳区的事件", party="enyang")
    for who, party in ((OWN, "bazhou"), (OTHER, "enyang")):
        rows = (await desk.http.get("/api/incidents", headers=desk.auth(who))).json()
        assert [r["party"]["code"] for r in rows] == [party]
        filtered = (await desk.http.get(f"/api/incidents?party={'enyang' if party == 'bazhou' else 'bazhou'}",
                                        headers=desk.auth(who))).json()
        assert filtered == []
    assert len((await desk.http.get("/api/incidents", headers=desk.auth(DUTY))).json()) == 2


async def test_a_supporting_party_sees_the_incident_and_takes_only_its_part(desk):
    """牵头/配合: the supporting party's liaison sees the incident, acknowledges on its own clock, adds notes and
    reports its task done; releases and assigning tasks stay with the lead; a third party sees nothing."""
    with session_scope(desk.database_url) as s:
        create_user(s, username="sthjj", password=PASSWORD, role="responder", party_code="dept-sthjj")
    r = await desk.http.post("/api/auth/token", data={"username": "sthjj", "password": PASSWORD})
    support = {"Authorization": f"Bearer {r.json()['access_token']}"}
    # Bad input at opening: the lead named as its own supporting party; nothing is opened.
    r = await desk.open(title="河道污染", party="bazhou", supporting=["bazhou"])
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "supporting"
    assert (await desk.http.get("/api/incidents", headers=desk.auth(DUTY))).json() == []
    iid = (await desk.open(title="跨区河道污染", party="bazhou", supporting=["dept-sthjj"])).json()["id"]
    url = f"/api/incidents/{iid}"
    assert (await desk.http.get(url, headers=support)).status_code == 200
    assert (await desk.http.get(url + "/timeline", headers=support)).status_code == 200
    assert [i["id"] for i in (await desk.http.get("/api/incidents", headers=support)).json()] == [iid]
    assert (await desk.http.get(url, headers=desk.auth(OTHER))).status_code == 404  # a third party
    before = timeline_len(desk.database_url, iid)
    for path, body in (("/releases", {}), ("/press-conferences", {}), ("/tasks", {
            "party": "dept-sthjj", "text": "自行交办", "due_at": "2099-01-01T09:00:00+08:00"})):
        r = await desk.http.post(url + path, json=body, headers=support)
        assert r.status_code == 403 and "牵头单位" in r.json()["detail"], (path, r.text)
    assert timeline_len(desk.database_url, iid) == before
    assert (await desk.http.post(url + "/notes", json={"text": "已派员现场取样"}, headers=support)).status_code == 200
    r = await desk.http.post(url + "/acknowledge", json={}, headers=support)
    states = {m["key"]: m["state"] for m in r.json()["milestones"]}
    assert r.status_code == 200 and states["acknowledge"] == "pending"  # its own clock, not the lead's
    assert [(p["party"]["code"], p["acknowledge_state"]) for p in r.json()["supporting"]] == [("dept-sthjj", "met")]
    # Bad input for a task: due in the past; a supporting party equal to the lead.
    r = await desk.http.post(url + "/tasks", json={"party": "dept-sthjj", "text": "核实",
                                                   "due_at": "2020-01-01T09:00:00+08:00"}, headers=desk.auth(OWN))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "due_at"
    r = await desk.http.post(url + "/supporting-parties", json={"party": "bazhou"}, headers=desk.auth(SUPER))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "party"
    r = await desk.http.post(url + "/tasks", json={"party": "dept-sthjj", "text": "提供水质监测报告",
                                                   "due_at": "2099-01-01T09:00:00+08:00"}, headers=desk.auth(OWN))
    assert r.status_code == 200, r.text
    r = await desk.http.post(url + "/task-results", json={"task": 1, "note": "报告已上报"}, headers=support)
    assert r.status_code == 200, r.text
    assert [(t["n"], t["state"], t["note"]) for t in r.json()["tasks"]] == [(1, "met", "报告已上报")]
    kinds = [e["kind"] for e in (await desk.http.get(url + "/timeline", headers=support)).json()["events"]]
    assert {"acknowledged", "task_assigned", "task_done", "note"} <= set(kinds)


async def test_passwords_are_stored_as_argon2id_hashes(desk):
    with session_scope(desk.database_url) as s:
        users = s.exec(select(User)).all()
    assert users and all(u.password_hash.startswith("$argon2id$") for u in users)
    assert not any(PASSWORD in u.password_hash for u in users)


async def test_repeated_wrong_passwords_are_refused_for_a_while(desk):
    for _ in range(MAX_FAILURES):
        r = await desk.http.post("/api/auth/token", data={"username": "bazhou", "password": "wrong-guess-1"})
        assert r.status_code == 401 and r.json()["detail"] == "用户名或密码错误。"
    # The sixth try is refused even with the right password, and says when to come back.
    r = await desk.http.post("/api/auth/token", data={"username": "bazhou", "password": PASSWORD})
    assert r.status_code == 429
    assert "登录失败次数过多" in r.json()["detail"] and "分钟后再试" in r.json()["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= WINDOW_SECONDS
    # Another user from the same address is not locked out by someone guessing bazhou's password.
    r = await desk.http.post("/api/auth/token", data={"username": "enyang", "password": PASSWORD})
    assert r.status_code == 200
    # Existing tokens keep working.
    assert (await desk.http.get("/api/parties", headers=desk.auth(OWN))).status_code == 200


def test_the_login_lock_lifts_after_the_window_and_a_success_clears_the_count():
    now = [1000.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        limiter.failed("Bazhou", "10.0.0.1")
    assert limiter.retry_after("bazhou", "10.0.0.1") == 0
    limiter.succeeded("bazhou", "10.0.0.1")
    for _ in range(MAX_FAILURES):
        limiter.failed("bazhou", "10.0.0.1")
    assert limiter.retry_after("bazhou", "10.0.0.1") == WINDOW_SECONDS
    assert limiter.retry_after("bazhou", "10.0.0.2") == 0  # counted per address
    now[0] += WINDOW_SECONDS + 1
    assert limiter.retry_after("bazhou", "10.0.0.1") == 0
    for i in range(50):  # one address trying many usernames
        limiter.failed(f"user{i}", "10.0.0.9")
    assert limiter.retry_after("someone-else", "10.0.0.9") > 0


async def test_tokens_and_sessions_expire(desk):
    app = desk.http._transport.app
    saved = app.state.tokens
    app.state.tokens = short = Tokens(TEST_SECRET_KEY, 0)
    short.ttl_seconds = 1
    try:
        r = await desk.http.post("/api/auth/token", data={"username": "super", "password": PASSWORD})
        assert r.json()["expires_in"] == 1
        token = r.json()["access_token"]
        with session_scope(desk.database_url) as s:
            user = s.exec(select(User).where(User.username == "super")).one()
        cookie = short.issue(user, "session")
        assert (await desk.http.get("/api/parties", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        await asyncio.sleep(2.2)
        r = await desk.http.get("/api/parties", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "已过期" in r.json()["detail"]
        r = await desk.http.get("/api/parties", cookies={"desk_session": cookie})
        assert r.status_code == 401
    finally:
        app.state.tokens = saved
    # A token for one purpose is not accepted for the other, nor a forged one.
    api_token = desk.tokens[SUPER]
    assert (await desk.http.get("/api/parties", cookies={"desk_session": api_token})).status_code == 401
    forged = Tokens("not-the-secret", 60).issue(user, "api")
    assert (await desk.http.get("/api/parties", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_the_timeline_cannot_be_edited_or_deleted_through_any_route(desk):
    app = desk.http._transport.app
    for path, ops in app.openapi()["paths"].items():
        assert not {"put", "patch", "delete"} & set(ops), f"{path} offers {sorted(ops)}"
    iid = (await desk.open(title="时间线不可改", party="bazhou")).json()["id"]
    await desk.http.post(f"/api/incidents/{iid}/notes", headers=desk.auth(DUTY), json={"text": "原始记录"})
    def assignment_recorded():
        with session_scope(desk.database_url) as s:
            return s.exec(select(TimelineEvent).where(TimelineEvent.kind == "assignment_notified")).first()

    await eventually(assignment_recorded, timeout=20)  # the 【新交办】 event comes on its own time: wait for it
    before = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth(ADMIN))).json()["events"]
    assert [e["kind"] for e in before] == ["opened", "assignment_notified", "note"] or \
        [e["kind"] for e in before] == ["opened", "note", "assignment_notified"]
    for path in (f"/api/incidents/{iid}/timeline", f"/api/incidents/{iid}", f"/api/incidents/{iid}/notes",
                 f"/api/incidents/{iid}/timeline/1", f"/api/incidents/{iid}/notes/2"):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            if method == "POST" and path.endswith("/notes"):
                continue
            r = await desk.http.request(method, path, headers=desk.auth(ADMIN), json={"text": "篡改", "seq": 1})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    # Further actions only append: the earlier events are exactly as they were.
    await desk.http.post(f"/api/incidents/{iid}/notes", headers=desk.auth(ADMIN), json={"text": "追加"})
    await desk.http.post(f"/api/incidents/{iid}/acknowledge", headers=desk.auth(OWN))
    after = (await desk.http.get(f"/api/incidents/{iid}/timeline", headers=desk.auth(ADMIN))).json()["events"]
    assert after[: len(before)] == before
    assert [e["seq"] for e in after] == [1, 2, 3, 4, 5]


# Report pages (not in the OpenAPI document): the review is for whoever sees the incident, the 通报 for those who
# read the assessment. Denied: anonymous to the login page (303), a role that may not (403), another party's
# responder the same 404 as an unknown incident. The PDF routes share these guards (their rendering is tested in
# tests/system/test_reports.py).
PAGES = [
    ("/incidents/{human_id}/review", SEES_INCIDENT),
    ("/incidents/{human_id}/review.docx", SEES_INCIDENT),
    ("/assessment/report?period=2026-03&format=xlsx", SUPERVISES),
    ("/reports/runs", SUPERVISES),  # the scheduled reports; their files behind the same guard (test_scheduled_reports)
]


async def test_every_role_on_the_report_pages(desk):
    app = desk.http._transport.app
    iid = (await desk.open(title="授权矩阵中的复盘", party="bazhou")).json()["id"]
    with session_scope(desk.database_url) as s:
        cookies = {u.username: app.state.tokens.issue(u, "session") for u in s.exec(select(User)).all()}
    failures = []
    for path, allowed in PAGES:
        for role in ROLES:
            url = path.replace("{human_id}", iid)
            r = await desk.http.get(url, cookies={"desk_session": cookies[role]} if role != ANON else {})
            if role in allowed:
                ok = r.status_code == 200
            elif role == ANON:
                ok = r.status_code == 303 and r.headers["location"].startswith("/login")
            elif role == OTHER and OWN in allowed:
                ok = r.status_code == 404 and f"没有编号为 {iid} 的舆情事件" in r.text
            else:
                ok = r.status_code == 403
            if not ok:
                failures.append(f"{role:9} GET {path}: {r.status_code}")
    r = await desk.http.get("/incidents/YQ-2026-999999/review", cookies={"desk_session": cookies[SUPER]})
    assert r.status_code == 404 and "没有编号为 YQ-2026-999999 的舆情事件" in r.text
    r = await desk.http.get("/assessment/report?period=2026-13&format=pdf", cookies={"desk_session": cookies[SUPER]})
    assert r.status_code == 422 and "2026-Q1" in r.text  # says how to write a period
    assert failures == [], "\n".join(failures)


# The admin pages (not in the OpenAPI document): admins only; supervisors also read the audit log. The targets
# do not exist and the forms are empty, so an allowed request is answered 404/422 and nothing is written.
AUDIT_READERS = {SUPER, ADMIN}
ADMINS = {ADMIN}
ADMIN_PAGES = [
    ("get", "/admin", AUDIT_READERS),
    ("get", "/admin/users", ADMINS),
    ("post", "/admin/users", ADMINS),
    ("get", "/admin/users/{username}", ADMINS),
    ("post", "/admin/users/{username}", ADMINS),
    ("post", "/admin/users/{username}/password", ADMINS),
    ("post", "/admin/users/{username}/active", ADMINS),
    ("get", "/admin/parties", ADMINS),
    ("post", "/admin/parties", ADMINS),
    ("get", "/admin/parties/{code}", ADMINS),
    ("post", "/admin/parties/{code}", ADMINS),
    ("post", "/admin/parties/{code}/active", ADMINS),
    ("post", "/admin/parties/{code}/delete", ADMINS),
    ("get", "/admin/channels", ADMINS),
    ("post", "/admin/channels", ADMINS),
    ("post", "/admin/channels/{channel_id}/test", ADMINS),
    ("post", "/admin/channels/{channel_id}/delete", ADMINS),
    ("get", "/admin/policy", ADMINS),
    ("get", "/admin/audit", AUDIT_READERS),
    ("get", "/admin/audit.csv", AUDIT_READERS),
]
MISSING = {"{username}": "nobody", "{code}": "no-such-party", "{channel_id}": "999999"}


async def test_every_role_on_every_admin_page(tmp_path, database_url):
    from api.web.admin import router
    from desk.models import AuditEntry

    async with pages_app(make_settings(tmp_path, None), database_url) as app_http:
        mounted = {(m.lower(), r.path) for r in router.routes for m in getattr(r, "methods", ()) if m != "HEAD"}
        assert mounted == {(m, p) for m, p, _ in ADMIN_PAGES}, "an admin page without a line in the matrix"
        clients = {}
        for role in ROLES:
            http = httpx.AsyncClient(transport=app_http._transport, base_url="http://desk.test")
            http.csrf = await page_login(http, role) if role != ANON else csrf_of((await http.get("/login")).text)
            clients[role] = http
        with session_scope(database_url) as s:
            audit_before = len(s.exec(select(AuditEntry.id).where(~AuditEntry.action.startswith("login"))).all())
        failures = []
        for method, path, allowed in ADMIN_PAGES:
            url = path
            for placeholder, value in MISSING.items():
                url = url.replace(placeholder, value)
            for role, http in clients.items():
                if method == "post":
                    r = await http.post(url, data={"csrf_token": http.csrf})
                else:
                    r = await http.get(url)
                to_login = r.status_code == 303 and r.headers["location"].startswith("/login")
                denied = to_login or r.status_code in (401, 403)
                if r.status_code >= 500:
                    failures.append(f"{role:9} {method.upper()} {path}: server error")
                elif denied != (role not in allowed):
                    failures.append(f"{role:9} {method.upper()} {path}: {'denied' if denied else 'allowed'} "
                                    f"({r.status_code})")
                elif denied and (role == ANON) != to_login:
                    failures.append(f"{role:9} {method.upper()} {path}: denied without the right answer ({r.status_code})")
        for http in clients.values():
            await http.aclose()
        with session_scope(database_url) as s:
            audit_after = len(s.exec(select(AuditEntry.id).where(~AuditEntry.action.startswith("login"))).all())
    print(f"\nadmin pages: {len(ADMIN_PAGES) * len(ROLES)} cases, {len(failures)} failures")
    assert failures == [], "\n".join(failures)
    assert audit_after == audit_before, "a refused or empty admin request changed something"
