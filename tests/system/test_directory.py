"""Directory login (SPEC §11) against a real OpenLDAP: each test module starts Debian's `slapd` with its own
config and data directory on a free port (skipped, saying why, only where the binary is missing).

What a user notices: a directory user logs in with the password of their unit's directory and lands with the
role and party their groups give; a wrong password, an unknown name, an account in no mapped group and a
directory that is down each get a clear sentence; and the local break-glass admin logs in whatever the
directory does. Nothing in it depends on the database: the SQLite pass runs it.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from desk.db import init_db, session_scope
from desk.directory import Directory, DirectoryConfigError
from desk.models import User
from desk.users import authenticate, create_user
from tests.helpers import PASSWORD, csrf_of, free_port, make_settings

pytestmark = pytest.mark.sqlite_only

SLAPD = shutil.which("slapd", path="/usr/sbin:/usr/local/sbin:/usr/bin")
SLAPADD = shutil.which("slapadd", path="/usr/sbin:/usr/local/sbin:/usr/bin")
NO_SLAPD = "Debian's slapd is not installed (apt-get install slapd ldap-utils): the directory login tests need it"

SUFFIX = "dc=desk,dc=test"
ADMIN_DN, ADMIN_PASSWORD = f"cn=admin,{SUFFIX}", "directory-admin-1"
READER_DN, READER_PASSWORD = f"cn=desk-reader,{SUFFIX}", "desk-reader-1"
PEOPLE, GROUPS = f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}"
# uid: (cn, password, groups)
PEOPLE_ENTRIES = {
    "li": ("李联络", "li-directory-1", ["liaisons", "bazhou-liaisons"]),
    "zhao": ("赵值班", "zhao-directory-1", ["duty-office"]),
    "wang": ("王后勤", "wang-directory-1", ["canteen"]),
    "sun": ("孙联络", "sun-directory-1", ["liaisons"]),
}
GROUP_MAP = f"""
[roles]
"desk-admins" = "admin"
"duty-office" = "duty_officer"
"cn=liaisons,{GROUPS}" = "responder"  # by its DN

[parties]
"bazhou-liaisons" = "bazhou"
"enyang-liaisons" = "enyang"
"""
SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {dir}/data
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: desk\ndc: desk",
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: desk-reader\n"
        f"userPassword: {READER_PASSWORD}",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
    ]
    members: dict[str, list[str]] = {"desk-admins": [], "enyang-liaisons": []}
    for uid, (cn, password, groups) in PEOPLE_ENTRIES.items():
        entries.append(f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn[0]}\n"
                       f"userPassword: {password}")
        for group in groups:
            members.setdefault(group, []).append(f"uid={uid},{PEOPLE}")
    for group, dns in members.items():
        lines = "".join(f"\nmember: {dn}" for dn in [ADMIN_DN, *dns])  # never empty: groupOfNames needs a member
        entries.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}{lines}")
    return "\n\n".join(entries) + "\n"


@dataclass
class Slapd:
    url: str
    proc: subprocess.Popen

    def admin(self) -> Connection:
        return Connection(Server(self.url), user=ADMIN_DN, password=ADMIN_PASSWORD, auto_bind=True)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    """A real slapd (OpenLDAP, from Debian) with its own slapd.conf and data directory, on a free port."""
    if not SLAPD or not SLAPADD:
        pytest.skip(NO_SLAPD)
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "data").mkdir()
    conf = folder / "slapd.conf"
    conf.write_text(SLAPD_CONF.format(dir=folder, suffix=SUFFIX, admin=ADMIN_DN, admin_password=ADMIN_PASSWORD))
    (folder / "data.ldif").write_text(_ldif(), encoding="utf-8")
    subprocess.run([SLAPADD, "-f", str(conf), "-l", str(folder / "data.ldif")], check=True, capture_output=True)
    port = free_port()
    log = open(folder / "slapd.log", "wb")
    # -d 0: stay in the foreground (so the test owns the process), log nothing but errors.
    proc = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (folder / "slapd.log").read_text(errors="replace")[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "slapd did not start listening"
                time.sleep(0.05)
        yield Slapd(f"ldap://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _settings(tmp_path: Path, url: str, *, service_account: bool = True, **overrides):
    groups = tmp_path / "ldap-groups.toml"
    groups.write_text(GROUP_MAP, encoding="utf-8")
    finding = (dict(ldap_bind_dn=READER_DN, ldap_bind_password=READER_PASSWORD, ldap_user_base=PEOPLE)
               if service_account else dict(ldap_user_dn=f"uid={{username}},{PEOPLE}"))
    return make_settings(tmp_path, None, ldap_url=url, ldap_group_base=GROUPS, ldap_groups=groups,
                         **{**finding, **overrides})


@asynccontextmanager
async def desk_with_directory(settings, database_url: str):
    """The app in this process with one local account, the break-glass ``admin``; no Temporal."""
    init_db(database_url)
    with session_scope(database_url) as session:
        create_user(session, username="admin", password=PASSWORD, role="admin")
    closed = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    app = create_app(settings, client=closed, database_url=database_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        yield http


async def _token(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/token", data={"username": username, "password": password})


async def _page_login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    if "desk_session" in http.cookies:  # logged in already: /login would send us on
        http.cookies.delete("desk_session")
    token = csrf_of((await http.get("/login")).text)
    return await http.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _user(database_url: str, username: str) -> User | None:
    with session_scope(database_url) as session:
        return session.exec(select(User).where(User.username == username)).first()


@pytest.mark.parametrize("service_account", [True, False], ids=["service-account", "user-dn"])
async def test_a_directory_user_logs_in_with_the_role_and_party_of_their_groups(slapd, tmp_path, database_url,
                                                                                  service_account):
    settings = _settings(tmp_path, slapd.url, service_account=service_account)
    async with desk_with_directory(settings, database_url) as http:
        r = await _token(http, "li", "li-directory-1")
        assert r.status_code == 200, r.text
        li = _user(database_url, "li")
        assert (li.role, li.party_code, li.display_name) == ("responder", "bazhou", "李联络")
        with session_scope(database_url) as session:  # no local password opens the row
            assert authenticate(session, "li", "li-directory-1") is None
        r = await _page_login(http, "zhao", "zhao-directory-1")
        assert r.status_code == 303 and r.headers["location"] == "/incidents"  # a duty officer's first page
        assert _user(database_url, "zhao").role == "duty_officer"

        # The unit moves 李 to 恩阳区: the next login carries the new party.
        with slapd.admin() as directory:
            li_dn = f"uid=li,{PEOPLE}"
            assert directory.modify(f"cn=bazhou-liaisons,{GROUPS}", {"member": [(MODIFY_DELETE, [li_dn])]})
            assert directory.modify(f"cn=enyang-liaisons,{GROUPS}", {"member": [(MODIFY_ADD, [li_dn])]})
        try:
            r = await _page_login(http, "li", "li-directory-1")
            assert r.status_code == 303 and r.headers["location"] == "/my"  # a responder's first page
            assert _user(database_url, "li").party_code == "enyang"
        finally:
            with slapd.admin() as directory:
                assert directory.modify(f"cn=enyang-liaisons,{GROUPS}", {"member": [(MODIFY_DELETE, [li_dn])]})
                assert directory.modify(f"cn=bazhou-liaisons,{GROUPS}", {"member": [(MODIFY_ADD, [li_dn])]})


async def test_wrong_password_unknown_user_and_no_mapped_group_each_get_a_clear_answer(slapd, tmp_path,
                                                                                       database_url):
    async with desk_with_directory(_settings(tmp_path, slapd.url), database_url) as http:
        wrong = await _token(http, "li", "not-li-password")
        unknown = await _token(http, "nobody", "li-directory-1")
        canteen = await _token(http, "wang", "wang-directory-1")
        no_party = await _token(http, "sun", "sun-directory-1")
        # A wrong password and an unknown name get the same answer, so names cannot be probed.
        assert (wrong.status_code, wrong.json()["detail"]) == (401, "用户名或密码错误。")
        assert (unknown.status_code, unknown.json()["detail"]) == (401, "用户名或密码错误。")
        assert canteen.status_code == 403 and "不在本系统授权的任何组中" in canteen.json()["detail"]
        assert no_party.status_code == 403 and "不在任何责任单位的组中" in no_party.json()["detail"]
        assert _user(database_url, "wang") is None and _user(database_url, "nobody") is None

        page = await _page_login(http, "wang", "wang-directory-1")
        assert page.status_code == 403
        assert "您的目录账号不在本系统授权的任何组中，暂不能登录；请联系管理员开通。" in page.text
        http.cookies.set("desk_lang", "en")
        page = await _page_login(http, "wang", "wang-directory-1")
        assert "Your directory account is in none of the groups this desk admits" in page.text
        page = await _page_login(http, "li", "not-li-password")
        assert page.status_code == 401 and "Wrong user name or password." in page.text


def _hanging_directory() -> tuple[str, threading.Event]:
    """A port that accepts connections and never answers: a directory that hangs instead of refusing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def hold() -> None:
        held = []
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                pass
        for conn in held:
            conn.close()
        listener.close()

    threading.Thread(target=hold, daemon=True).start()
    return f"ldap://127.0.0.1:{listener.getsockname()[1]}", stop


async def test_a_directory_that_is_down_gets_a_clear_answer_and_never_locks_the_local_admin_out(tmp_path,
                                                                                                database_url):
    nobody_listens = f"ldap://127.0.0.1:{free_port()}"
    async with desk_with_directory(_settings(tmp_path, nobody_listens), database_url) as http:
        # More tries than the limit of failed logins: the directory being down is not the user's failure.
        answers = [await _token(http, "li", "li-directory-1") for _ in range(6)]
        assert {(r.status_code, r.json()["detail"], r.headers["Retry-After"]) for r in answers} == {
            (503, "目录服务（LDAP）暂时无法连接，请稍后再试或联系管理员。", "30")}
        page = await _page_login(http, "li", "li-directory-1")
        assert page.status_code == 503 and "目录服务（LDAP）暂时无法连接，请稍后再试或联系管理员。" in page.text
        # The break-glass admin: a local account, checked here, never sent to the directory.
        assert (await _token(http, "admin", PASSWORD)).status_code == 200
        assert (await _page_login(http, "admin", PASSWORD)).status_code == 303


async def test_the_admin_logs_in_before_a_hanging_directory_answers(tmp_path, database_url):
    url, stop = _hanging_directory()
    try:
        async with desk_with_directory(_settings(tmp_path, url, ldap_timeout_seconds=2), database_url) as http:
            waiting = [asyncio.create_task(_token(http, "li", "li-directory-1")) for _ in range(4)]
            await asyncio.sleep(0.3)  # the directory logins hold their slots, waiting on the network
            started = time.monotonic()
            admin = await _token(http, "admin", PASSWORD)
            took = time.monotonic() - started
            # Less than the directory's timeout: the admin's password was checked without waiting for it.
            assert admin.status_code == 200 and took < 2, f"the local admin waited {took:.1f} s on the directory"
            assert {r.status_code for r in await asyncio.gather(*waiting)} == {503}
    finally:
        stop.set()


def test_directory_settings_that_cannot_work_stop_the_desk_with_a_sentence(tmp_path):
    settings = make_settings(tmp_path, None, ldap_url="ldap://directory.example:389", ldap_group_base=GROUPS,
                             ldap_user_dn=f"uid={{username}},{PEOPLE}")
    with pytest.raises(DirectoryConfigError, match="DESK_LDAP_GROUPS is not"):
        Directory.from_settings(settings)
    bad = tmp_path / "bad.toml"
    bad.write_text('[roles]\n"desk-admins" = "superuser"\n', encoding="utf-8")
    with pytest.raises(DirectoryConfigError, match="the role must be one of"):
        Directory.from_settings(settings.model_copy(update={"ldap_groups": bad}))
    assert Directory.from_settings(make_settings(tmp_path, None)) is None  # no URL: local accounts only
