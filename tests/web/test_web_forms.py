"""Page forms over plain HTTP against the real app under uvicorn: CSRF, sessions, one incident per form,
languages, roles. (The browser tests in test_web_pages.py drive the same pages through Chromium.)"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from api.web.i18n import LOCALES_DIR
from tests.helpers import PASSWORD, csrf_of

FORM = {"title": "某景区游客滞留引发关注", "category": "accident", "level": "III", "party": "bazhou", "source": "web"}


async def test_form_without_csrf_token_is_refused(web_desk):
    async with web_desk.client() as http:
        token = await web_desk.login(http, "duty")
        r = await http.post("/incidents/new", data=FORM)
        assert r.status_code == 403 and "表单已过期" in r.text
        r = await http.post("/incidents/new", data={**FORM, "csrf_token": token[:-2] + "xx"})
        assert r.status_code == 403
    # A token taken from one browser does not work with another browser's cookie.
    async with web_desk.client() as other:
        await web_desk.login(other, "duty")
        r = await other.post("/incidents/new", data={**FORM, "csrf_token": token})
        assert r.status_code == 403
    assert web_desk.incidents() == []
    async with web_desk.client() as http:  # the login form is protected too
        await http.get("/login")
        r = await http.post("/login", data={"username": "duty", "password": PASSWORD})
        assert r.status_code == 403 and "desk_session" not in r.headers.get("set-cookie", "")


async def test_session_cookie_and_login_redirect(web_desk):
    async with web_desk.client() as http:
        r = await http.get("/incidents/YQ-2026-000001")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/incidents/YQ-2026-000001"
        token = csrf_of((await http.get("/login")).text)
        r = await http.post("/login", data={"username": "bazhou", "password": "wrong-password",
                                            "csrf_token": token, "next": "/my"})
        assert r.status_code == 401 and "用户名或密码错误" in r.text and 'value="bazhou"' in r.text
        # An absolute next= is never followed (no open redirect).
        r = await http.post("/login", data={"username": "bazhou", "password": PASSWORD, "csrf_token": token,
                                            "next": "https://evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/my"
        cookie = r.headers["set-cookie"]
        assert "desk_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        # The same session cookie works for the JSON API (api.deps.current_user).
        assert (await http.get("/api/incidents")).status_code == 200
        r = await http.post("/logout", data={"csrf_token": csrf_of((await http.get("/my")).text)})
        assert r.status_code == 303
        assert (await http.get("/my")).status_code == 303


async def test_same_form_posted_twice_opens_one_incident(web_desk):
    async with web_desk.client() as http:
        token = await web_desk.login(http, "duty")
        data = {**FORM, "csrf_token": token, "idempotency_key": "web-0123456789abcdef"}
        first, second = await asyncio.gather(http.post("/incidents/new", data=data), http.post("/incidents/new", data=data))
    assert first.status_code == second.status_code == 303
    assert first.headers["location"].split("?")[0] == second.headers["location"].split("?")[0]
    assert len(web_desk.incidents()) == 1


async def test_english_is_remembered_per_user_and_errors_speak_it(web_desk):
    async with web_desk.client() as http:
        token = await web_desk.login(http, "duty")
        page = (await http.get("/incidents/new")).text
        assert '<html lang="zh-CN">' in page and "登记舆情" in page
        r = await http.post("/language", data={"csrf_token": token, "language": "en", "next": "/incidents/new"})
        assert r.status_code == 303 and r.headers["location"] == "/incidents/new"
    async with web_desk.client() as fresh:  # another device: the choice came with the user
        token = await web_desk.login(fresh, "duty")
        page = (await fresh.get("/incidents/new")).text
        assert '<html lang="en">' in page and "New incident" in page and "登记舆情" not in page
        r = await fresh.post("/incidents/new", data={**FORM, "title": " ", "detected_at": "2099-05-01T10:00",
                                                     "csrf_token": token})
        assert r.status_code == 422
        assert "Enter a title." in r.text and "The detected time cannot be later than now." in r.text
        assert 'value="2099-05-01T10:00"' in r.text


async def test_roles_see_only_their_actions(web_desk):
    async with web_desk.client() as duty:
        token = await web_desk.login(duty, "duty")
        r = await duty.post("/incidents/new", data={**FORM, "csrf_token": token, "idempotency_key": "web-aaaaaaaaaaaa"})
        url = r.headers["location"].split("?")[0]
        page = (await duty.get(url)).text
        assert 'id="action-note"' in page and 'id="action-acknowledge"' not in page and 'id="action-close"' not in page
        r = await duty.post(url + "/acknowledge", data={"csrf_token": token})
        assert r.status_code == 403
    async with web_desk.client() as responder:
        token = await web_desk.login(responder, "bazhou")
        page = (await responder.get(url)).text
        assert 'id="action-acknowledge"' in page and 'id="action-close"' not in page
        assert (await responder.get("/incidents/new")).status_code == 403
        # A bad release time comes back next to the field, with what was typed.
        r = await responder.post(url + "/release", data={"csrf_token": token, "released_at": "2099-01-01T00:00",
                                                         "channel": "政府网站"})
        assert r.status_code == 422 and "发布时间不能晚于当前时间" in r.text and 'value="政府网站"' in r.text
    async with web_desk.client() as supervisor:
        token = await web_desk.login(supervisor, "super")
        page = (await supervisor.get(url)).text
        for action in ("acknowledge", "release", "reassign", "level", "waive", "close"):
            assert f'id="action-{action}"' in page
        r = await supervisor.post(url + "/close", data={"csrf_token": token, "reason": ""})
        assert r.status_code == 409 and "不能结案" in r.text  # the workflow's own refusal, shown on the page
        r = await supervisor.post(url + "/level", data={"csrf_token": token, "level": "II", "reason": "影响扩大"})
        assert r.status_code == 303
        page = (await supervisor.get(r.headers["location"])).text
        assert "调整级别" in page and "影响扩大" in page and "重大（II级）" in page


async def test_an_english_page_says_a_workflow_refusal_with_values_in_english(web_desk):
    """Closing with open milestones: the workflow's refusal names them; an English page says it all in English."""
    async with web_desk.client() as duty:
        token = await web_desk.login(duty, "duty")
        r = await duty.post("/incidents/new", data={**FORM, "csrf_token": token, "idempotency_key": "web-cccccccccccc"})
        url = r.headers["location"].split("?")[0]
    async with web_desk.client() as supervisor:
        token = await web_desk.login(supervisor, "super")
        await supervisor.post("/language", data={"csrf_token": token, "language": "en", "next": url})
        r = await supervisor.post(url + "/close", data={"csrf_token": token, "reason": ""})
        assert r.status_code == 409
        assert "Cannot close: Acknowledgement by the responsible party" in r.text and "不能结案" not in r.text
        r = await supervisor.post(url + "/waive", data={"csrf_token": token, "milestone": "follow_up", "reason": "无"})
        assert r.status_code == 422 and "This incident has no milestone “Follow-up release”." in r.text


def test_pages_use_no_outside_assets():
    """Every asset is served by the app: no template or stylesheet points at another host."""
    outside = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""")
    root = LOCALES_DIR.parent
    for path in [*(root / "templates").rglob("*.html"), root / "static" / "desk.css", root / "static" / "desk.js"]:
        assert not outside.search(path.read_text(encoding="utf-8")), path


def test_catalog_is_complete_and_compiled(tmp_path):
    """Every message in the pages has its Chinese, and the shipped .mo matches the .po."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", str(LOCALES_DIR / "babel.cfg"),
                    "-k", "N_", "-o", str(pot), "."], cwd=LOCALES_DIR.parent.parent, check=True)
    with pot.open("rb") as f:
        in_code = {m.id for m in read_po(f) if m.id}

    po_path = LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as f:
        po = read_po(f)
    with po_path.with_suffix(".mo").open("rb") as f:
        mo = read_mo(f)
    translated = {m.id for m in po if m.id and m.string}
    assert sorted(in_code - translated) == [], "run the catalog update (see api/locales/README)"
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}


async def test_drill_is_marked_everywhere(web_desk):
    async with web_desk.client() as http:
        token = await web_desk.login(http, "duty")
        r = await http.post("/incidents/new", data={**FORM, "drill": "on", "csrf_token": token,
                                                    "idempotency_key": "web-drill-000001"})
        url = r.headers["location"].split("?")[0]
        page = (await http.get(url)).text
        assert page.count("【演练】") >= 2  # the badge and the title
        assert "【演练】" in (await http.get("/incidents")).text
    assert web_desk.incidents()[0].drill
