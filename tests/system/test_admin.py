"""The admin pages over HTTP against a real database and a real apprise receiver: bad input is refused with
a sentence at its field and nothing written; a channel added on the page is masked, answers a test message
with what apprise reported, and receives the ladder's messages; every login and admin action is audited."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import apprise
import pytest_asyncio
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier
from api.ratelimit import MAX_FAILURES
from desk.channels import TEST_TITLE
from desk.db import session_scope
from desk.messages import Deliver
from desk.models import AuditEntry, NotificationChannel, Party, User
from tests.helpers import PASSWORD, add_incident, make_settings, page_login, pages_app


def audit_log(database_url: str) -> list[AuditEntry]:
    with session_scope(database_url) as s:
        return list(s.exec(select(AuditEntry).order_by(AuditEntry.id)).all())


@pytest_asyncio.fixture
async def admin(tmp_path, database_url):
    async with pages_app(make_settings(tmp_path, None), database_url) as http:
        http.csrf = await page_login(http, "admin")
        yield http


async def test_bad_input_gets_a_sentence_at_its_field_and_nothing_is_written(admin, database_url):
    with session_scope(database_url) as s:
        add_incident(s, party="bazhou", level="III", detected_at=datetime.now(UTC) - timedelta(days=2),
                     milestones={"acknowledge": "met"})
    before = len(audit_log(database_url))
    cases = [  # (form, data, field, the sentence next to it)
        ("/admin/users", {"username": "duty", "role": "duty_officer", "password": "another-horse-7"}, "username",
         "用户名：duty 已被他人使用"),
        ("/admin/users", {"username": "newbie", "role": "duty_officer", "password": "12345678"}, "password",
         "密码太弱"),
        ("/admin/users", {"username": "newbie", "role": "responder", "password": "another-horse-7"}, "party",
         "责任单位联络员须属于一个责任单位"),
        ("/admin/channels", {"audience": "party", "party": "bazhou", "url": "nosuchservice://key-0042-secret"}, "url",
         "apprise 无法使用这个通知地址"),
        ("/admin/parties/enyang", {"name": "巴州区人民政府", "kind": "county"}, "name", "已有名为“巴州区人民政府”的责任单位"),
        ("/admin/parties", {"code": "Bad Code", "name": "新单位", "kind": "county"}, "code", "单位代码只能用小写字母"),
    ]
    for path, data, field, sentence in cases:
        r = await admin.post(path, data={**data, "csrf_token": admin.csrf})
        assert r.status_code == 422, (path, r.status_code)
        error = r.text.split(f'id="{field}-error">', 1)
        assert len(error) == 2 and sentence in error[1].split("</span>")[0], (path, field, sentence)
        assert "key-0042-secret" not in r.text  # a refused URL is not sent back either
    r = await admin.post("/admin/parties/bazhou/delete", data={"csrf_token": admin.csrf})
    assert r.status_code == 409 and "有 1 起舆情事件，不能删除，只能停用" in r.text

    with session_scope(database_url) as s:
        assert s.exec(select(User).where(User.username == "newbie")).first() is None
        assert s.get(Party, "enyang").name == "恩阳区人民政府" and s.get(Party, "bazhou") is not None
        assert s.exec(select(NotificationChannel)).all() == []
    assert len(audit_log(database_url)) == before


async def test_users_and_parties_change_through_the_pages_with_an_audit_entry_each(admin, database_url):
    r = await admin.post("/admin/users", data={"username": "tongjiang", "display_name": "通江联络员", "role": "responder",
                                               "party": "tongjiang", "password": "river-bank-77",
                                               "csrf_token": admin.csrf})
    assert r.status_code == 303
    r = await admin.post("/admin/users/tongjiang", data={"display_name": "通江联络员", "role": "responder",
                                                         "party": "nanjiang", "language": "en", "csrf_token": admin.csrf})
    assert r.status_code == 303
    r = await admin.post("/admin/users/tongjiang/password", data={"password": "new-river-88", "password_again": "new-river-88",
                                                                  "csrf_token": admin.csrf})
    assert r.status_code == 303
    r = await admin.post("/admin/users/tongjiang/active", data={"active": "0", "csrf_token": admin.csrf})
    assert r.status_code == 303
    assert (await admin.post("/api/auth/token", data={"username": "tongjiang", "password": "new-river-88"})).status_code == 401
    r = await admin.post("/admin/parties/enyang", data={"name": "恩阳区政府", "kind": "county", "csrf_token": admin.csrf})
    assert r.status_code == 303
    r = await admin.post("/admin/parties/enyang/active", data={"active": "0", "csrf_token": admin.csrf})
    assert r.status_code == 303
    assert "enyang" not in [p["code"] for p in (await admin.get("/api/parties")).json()]  # not offered any more

    with session_scope(database_url) as s:
        user = s.exec(select(User).where(User.username == "tongjiang")).one()
        assert (user.party_code, user.language, user.active) == ("nanjiang", "en", False)
        assert s.get(Party, "enyang").name == "恩阳区政府"
    mine = [(e.action, e.target) for e in audit_log(database_url) if e.actor == "admin" and not e.action.startswith("login")]
    assert mine == [("user.added", "tongjiang"), ("user.changed", "tongjiang"), ("user.password_reset", "tongjiang"),
                    ("user.disabled", "tongjiang"), ("party.changed", "enyang"), ("party.deactivated", "enyang")]
    assert not any("river" in str(e.detail) for e in audit_log(database_url))  # never a password


async def test_a_channel_added_on_the_page_is_masked_answers_a_test_message_and_receives_the_ladder(
        admin, database_url, receiver, caplog):
    caplog.set_level(logging.INFO)
    secret = "s3cr3t-0042-token"
    url = f"json://desk:{secret}@127.0.0.1:{receiver.port}/enyang-office?+X-Api-Key={secret}"
    r = await admin.post("/admin/channels", data={"audience": "party", "party": "enyang", "label": "恩阳区值班群",
                                                  "url": url, "csrf_token": admin.csrf})
    assert r.status_code == 303
    page = (await admin.get("/admin/channels")).text
    assert "恩阳区值班群" in page and "****" in page and secret not in page
    with session_scope(database_url) as s:
        channel = s.exec(select(NotificationChannel)).one()
    assert channel.tag == "enyang"

    r = await admin.post(f"/admin/channels/{channel.id}/test", data={"csrf_token": admin.csrf})
    assert r.status_code == 200 and "已送达" in r.text.split('id="test-result"')[1].split("</div>")[0]
    assert [m.title for m in receiver.tagged("enyang-office")] == [TEST_TITLE]
    receiver.fail_tags = {"enyang-office"}
    r = await admin.post(f"/admin/channels/{channel.id}/test", data={"csrf_token": admin.csrf})
    result = r.text.split('id="test-result"')[1].split("</div>")[0]
    assert "发送失败" in result and "error=500" in result  # apprise's own words
    receiver.fail_tags = set()

    # The ladder's messages to the tag reach it (no config file at all here).
    with session_scope(database_url) as s:
        incident = add_incident(s, party="enyang", level="III", status="open", detected_at=datetime.now(UTC),
                                milestones={"acknowledge": "pending"})
    notifier = Notifier(apprise.Apprise(), database_url)
    sent = await ActivityEnvironment().run(notifier.deliver, Deliver(
        dedupe_key="incident-a/acknowledge/g1/breach", incident_id=incident.id, human_id=incident.human_id,
        title=incident.title, level="III", party_name="恩阳区人民政府", kind="breach", tags=["enyang"],
        milestone="acknowledge", milestone_label="责任单位签收", due_at=datetime.now(UTC), link="http://desk.test/x"))
    assert [r.status for r in sent.results] == ["delivered"] and secret not in sent.results[0].channel
    assert len(receiver.tagged("enyang-office")) == 2

    r = await admin.post(f"/admin/channels/{channel.id}/delete", data={"csrf_token": admin.csrf})
    assert r.status_code == 303
    entries = [e for e in audit_log(database_url) if e.action.startswith("channel")]
    assert [(e.action, e.detail.get("status", "")) for e in entries] == [
        ("channel.added", ""), ("channel.tested", "delivered"), ("channel.tested", "failed"), ("channel.removed", "")]
    assert all(secret not in str(e.detail) + e.target for e in audit_log(database_url))
    assert secret not in caplog.text


async def test_every_login_is_audited_and_supervisors_read_and_export_the_log(tmp_path, database_url):
    async with pages_app(make_settings(tmp_path, None), database_url) as http:
        for _ in range(MAX_FAILURES):
            await http.post("/api/auth/token", data={"username": "bazhou", "password": "wrong-guess-1"})
        r = await http.post("/api/auth/token", data={"username": "bazhou", "password": PASSWORD})
        assert r.status_code == 429
        await page_login(http, "super")
        logins = [(e.actor, e.action) for e in audit_log(database_url) if e.action.startswith("login")]
        assert logins == [("bazhou", "login.failure")] * MAX_FAILURES + [("bazhou", "login.lockout"),
                                                                        ("super", "login.success")]
        page = await http.get("/admin/audit?action=login")
        assert page.status_code == 200
        assert page.text.count("登录失败（用户名或密码错误）") == MAX_FAILURES and "登录被拒（失败次数过多）" in page.text
        export = await http.get("/admin/audit.csv?action=login")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        lines = export.text.lstrip("\ufeff").strip().splitlines()
        assert len(lines) == 1 + MAX_FAILURES + 2 and "登录被拒（失败次数过多）" in lines[-2]
        assert (await http.get("/admin/users")).status_code == 403  # the rest is for admins
