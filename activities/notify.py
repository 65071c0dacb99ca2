"""Post one message (a rung of a ladder, or a channel-failure alert) through apprise, channel by channel.

`deliver` (runs since "durable-delivery") needs no SQL to send. Before posting to a channel it claims the
(rung, channel) pair in the delivery ledger, a unique row, so a retried activity racing the first one, or
one finding the message already delivered, does not post again (it reports the delivery the ledger holds,
which the workflow never heard of when the first try's report was lost); when the database is away it posts
without the claim (the workflow knows what each channel took and never asks twice). It reports each
channel's outcome to the workflow, which logs the attempts (through its outbox) and keeps what failed
owed. Every message carries a stable id (`消息编号` in the text; `desk_message_id` in a json:// body) so a
receiver can drop the one repeat left by a worker that died between the post and the ledger's update.

The channels are the `DESK_NOTIFY_CONFIG` file's and those added on the admin pages (`NotificationChannel`
rows), read again every few seconds; while the database cannot answer, the last ones read are used.
A message to a party also goes to its liaison on duty (desk/roster.py), through that person's own apprise URL:
looked up when the message is sent, each person a channel of its own (its own ledger row, its own attempt in
the log). While the database cannot answer, the message goes to the configured channels only.

`send_notification` is the first version, kept for runs started before "durable-delivery".
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apprise
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from desk import ids
from desk.db import get_engine, session_scope
from desk.masking import redact
from desk.messages import ChannelResult, Deliver, Delivered, Notify, NotifyOutcome
from desk.models import NotificationAttempt, NotificationChannel, NotificationDelivery, utcnow
from desk.notify_text import compose, message_id
from desk.roster import personal_urls_on_duty
from desk.vocab import DeliveryStatus, NotificationKind

log = logging.getLogger("desk.notify")

# These plugins report any HTTP 200 as success, even when the platform rejected the message
# (DingTalk's keyword check, WeCom's errcode in a 200 body): the log says "accepted", not "delivered".
UNCONFIRMED_SERVICES = {"dingtalk", "wecombot", "feishu", "lark"}
DELIVERED, ACCEPTED, FAILED, NO_CHANNEL = (DeliveryStatus.delivered, DeliveryStatus.accepted_unconfirmed,
                                          DeliveryStatus.failed, DeliveryStatus.no_channel)
CLAIMED, GONE = DeliveryStatus.claimed, DeliveryStatus.gone
# A claim older than this belongs to a sender that died (the activity's own timeout is one minute).
CLAIM_LEASE = timedelta(minutes=2)
# The ledger's table, for the statements every delivery runs on a connection (not through the ORM's unit of work:
# claiming and finishing were 11 % of the worker's CPU while incidents were opened, bench intake)
LEDGER: sa.Table = NotificationDelivery.__table__  # type: ignore[attr-defined]  # (SQLModel sets it)
FINISH = sa.update(LEDGER).where(
    LEDGER.c.dedupe_key == sa.bindparam("key"), LEDGER.c.channel_id == sa.bindparam("channel"),
    LEDGER.c.status != DELIVERED, LEDGER.c.status != ACCEPTED,
).values(status=sa.bindparam("new_status"))
# A try asked again while its own post is under way waits this long for it (polling the ledger), within the
# activity's minute and well under the local first try's timeout.
MINE, OWN_CLAIM_WAIT, OWN_CLAIM_POLL = "mine", 15.0, 0.25
# The ledger is a courtesy to the send, never a condition of it: past this, post without it.
LEDGER_TIMEOUT = 3.0
# Channels added on the admin pages are taken up by every worker within this many seconds.
STORED_REFRESH = 10.0
NOTIFY_TYPES: dict[str, apprise.NotifyType] = {
    NotificationKind.reminder: apprise.NotifyType.WARNING,
    NotificationKind.breach: apprise.NotifyType.FAILURE,
    NotificationKind.repeat: apprise.NotifyType.FAILURE,
    NotificationKind.channel_failure: apprise.NotifyType.FAILURE,
    NotificationKind.assigned: apprise.NotifyType.INFO,
    NotificationKind.urge: apprise.NotifyType.WARNING,
}


class ChannelConfigError(ValueError):
    """The notification config cannot be used; the message says which file and what is wrong."""


def load_channels(path: Path | None) -> apprise.Apprise:
    """Load the apprise config (YAML or text). A broken file stops the worker at start, with the reason."""
    channels = apprise.Apprise()
    if path is None:
        log.warning("DESK_NOTIFY_CONFIG is not set: reminders and escalations are logged but reach no one")
        return channels
    path = Path(path)
    if not path.is_file():
        raise ChannelConfigError(f"notification config {path} does not exist")
    _check_entries(path)
    config = apprise.AppriseConfig()
    if not config.add(str(path.resolve())):
        raise ChannelConfigError(f"notification config {path} could not be read")
    channels.add(config)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        loaded = len(channels)
    if loaded == 0:
        detail = captured.getvalue().strip().splitlines()
        reason = detail[-1] if detail else "no valid notification URL found"
        raise ChannelConfigError(f"notification config {path}: {reason}")
    return channels


def _check_entries(path: Path) -> None:
    """Name the line that is wrong: apprise itself only says the file failed, and silently drops an entry
    it does not understand (a typo would leave a party without notifications)."""
    import yaml

    text = path.read_text(encoding="utf-8")
    entries: list[tuple[int, str]] = []
    if path.suffix.lower() in (".yml", ".yaml"):
        try:
            root = yaml.compose(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", exc)
            raise ChannelConfigError(f"notification config {path}{where}: not valid YAML ({problem})") from None
        urls = next((v for k, v in getattr(root, "value", []) if isinstance(root, yaml.MappingNode)
                     and getattr(k, "value", None) == "urls"), None)
        if urls is None or not isinstance(urls, yaml.SequenceNode):
            raise ChannelConfigError(f"notification config {path}: needs a list under 'urls:'")
        for item in urls.value:
            node = item.value[0][0] if isinstance(item, yaml.MappingNode) and item.value else item
            entries.append((node.start_mark.line + 1, str(getattr(node, "value", ""))))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", ";")):
                continue
            entries.append((number, stripped.split("=", 1)[1].strip() if "=" in stripped.split("://", 1)[0]
                            else stripped))
    apprise_log = logging.getLogger("apprise")
    quiet, apprise_log.disabled = apprise_log.disabled, True  # it would log the whole URL, secret included
    try:
        unusable = [(n, url) for n, url in entries if apprise.Apprise.instantiate(url) is None]
    finally:
        apprise_log.disabled = quiet
    if unusable:
        number, url = unusable[0]
        shown = url.split("://", 1)[0] + "://…" if "://" in url else url[:20]  # never the secret part
        raise ChannelConfigError(
            f"notification config {path}, line {number}: '{shown}' is not a notification URL apprise "
            "can use (unknown service or malformed)")


def delivery_status(service: str, ok: bool) -> str:
    if not ok:
        return FAILED
    return ACCEPTED if service.split("://", 1)[0] in UNCONFIRMED_SERVICES else DELIVERED


@dataclass(frozen=True)
class Verdict:
    """One server's answer to a post, as the desk records it: its URL masked, never a secret."""

    url_id: str
    service: str
    channel: str
    ok: bool
    status: str  # delivered | accepted_unconfirmed | failed
    errors: list[str]  # what apprise logged at warning or worse

    @property
    def error(self) -> str:  # "" when it took the message
        return "" if self.ok else ("; ".join(self.errors)[:1000] or "发送失败")


def verdicts(outcome) -> list[Verdict]:  # noqa: ANN001 (apprise's async_notify result)
    return [Verdict(url_id=r.url_id or "", service=r.name[:64], channel=redact(r.url)[:500], ok=bool(r),
                    status=delivery_status(r.url, bool(r)),
                    errors=[e.message for e in r.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")])
            for r in outcome]


class Notifier:
    def __init__(self, channels: apprise.Apprise, database_url: str | None = None, *,
                 stored_refresh: float = STORED_REFRESH) -> None:
        self.file_channels = channels  # DESK_NOTIFY_CONFIG
        self.channels = channels  # the file's and the admin pages' (NotificationChannel), as last read
        self.database_url = database_url
        self.stored_refresh = stored_refresh
        self._stored: list[tuple[str, str]] = []
        self._stored_read_at = -math.inf
        # Ledger calls that outlive LEDGER_TIMEOUT (a locked SQLite file waits 30 s) finish here, off the
        # event loop's small default pool.
        self.ledger_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ledger")

    @activity.defn(name="deliver")
    async def deliver(self, d: Deliver) -> Delivered:
        channels = await self.current_channels()
        matched = {s.url_id(): s for s in channels.find(tag=d.tags, match_always=False)}
        on_duty = await self._on_duty(d)
        for server in on_duty or ():
            matched.setdefault(server.url_id(), server)
        wanted = list(matched) if d.channels is None else d.channels
        # Not configured any more; or, while the roster cannot be read, perhaps a liaison's own: still owed then.
        results = [ChannelResult(channel_id=c, status=GONE) if on_duty is not None else
                   ChannelResult(channel_id=c, status=FAILED, error="值班表暂时无法读取") for c in wanted if c not in matched]
        todo = [c for c in wanted if c in matched]
        where = {"incident": d.human_id, "rung": ids.rung_in(d.dedupe_key), "attempt": d.attempt}
        # The ledger is asked whatever the roster read did: a slow database that timed the roster out must not
        # turn off "never twice" (the ledger has its own bounded wait and, when it cannot answer, we post).
        claims = await self._ledger(self._claim, d, todo) or {}
        claims.update(await self._await_own_claims(d, claims))
        already = 0
        for channel_id, claim in claims.items():
            if isinstance(claim, tuple):  # the ledger has it delivered: by an earlier try whose report was lost
                # (the worker or the Temporal server died after the post). The workflow never logged that
                # delivery, so it is reported now, as the ledger recorded it, and not posted again.
                status, at = claim
                already += 1
                server = matched[channel_id]
                results.append(ChannelResult(channel_id=channel_id, status=status, service=str(server.service_name or "")[:64],
                                             channel=redact(server.url(privacy=True))[:500], at=at))
            elif claim == "busy":  # another sender holds the claim: this channel is tried again later
                results.append(ChannelResult(channel_id=channel_id, status=FAILED, error="另一次发送尚未结束"))
        post = [c for c in todo if claims.get(c) in (None, CLAIMED)]
        if post:
            title, body = compose(d, datetime.now(UTC))
            batch = apprise.Apprise()
            for channel_id in post:
                batch.add(_with_message_id(matched[channel_id], message_id(d.dedupe_key)))
            posting = asyncio.ensure_future(batch.async_notify(body=body, title=title,
                                                              notify_type=NOTIFY_TYPES.get(d.kind)))
            try:
                await asyncio.shield(posting)
            except asyncio.CancelledError:  # the try was called off (its workflow task timed out, or the worker is
                # stopping) while the post is on its way. A post cannot be taken back: it goes on, and what it did
                # goes in the ledger, where the same try asked again (waiting on its own claim) finds it and reports
                # it instead of posting again. Freeing the claims here posted a 【新交办】 up to 5 times when workflow
                # tasks timed out under a burst (tests/system/test_load.py).
                posting.add_done_callback(lambda done: self.ledger_pool.submit(
                    self._finish, d, self._posted(d, post, matched, done)))
                raise
            posted = self._posted(d, post, matched, posting)
            results += posted
            await self._ledger(self._finish, d, posted)
        failed = [r for r in results if r.status == FAILED]
        log.info("%s %s: %d channel(s) matched, %d posted, %d failed, %d had it already", d.kind, where["rung"],
                 len(matched), len(post), len(failed), already, extra=where)
        if failed:
            log.warning("notification channels failed: %s", "; ".join(f"{r.service}: {r.error}" for r in failed)[:500],
                        extra=where)
        return Delivered(matched=len(matched), results=results)

    @staticmethod
    def _posted(d: Deliver, post: list[str], matched: dict, posting: asyncio.Future) -> list[ChannelResult]:
        """Each posted channel's result, from the finished post (failed, each, if the post itself raised)."""
        if posting.cancelled() or posting.exception() is not None:
            error = "发送中断" if posting.cancelled() else str(posting.exception())[:500]
            return [ChannelResult(channel_id=c, status=FAILED, error=error) for c in post]
        by_url = {matched[c].url_id(): c for c in post}
        return [ChannelResult(channel_id=by_url.get(v.url_id, v.url_id), status=v.status, service=v.service,
                              channel=v.channel, error=v.error, at=datetime.now(UTC)) for v in verdicts(posting.result())]

    async def current_channels(self) -> apprise.Apprise:
        """The config file's channels and those added on the admin pages. The stored ones are read again at
        most every ``stored_refresh`` seconds; while the database cannot answer, the last reading is used
        (sending never waits on the database)."""
        now = time.monotonic()
        if now - self._stored_read_at < self.stored_refresh:
            return self.channels
        self._stored_read_at = now
        loop = asyncio.get_running_loop()
        try:
            stored = await asyncio.wait_for(loop.run_in_executor(self.ledger_pool, self._read_stored), LEDGER_TIMEOUT)
        except Exception as exc:  # the database is away: keep what was read last
            log.warning("stored notification channels unavailable, using the last ones read: %s", str(exc)[:200])
            return self.channels
        if stored != self._stored:
            combined = apprise.Apprise()
            for server in self.file_channels:
                combined.add(server)
            apprise_log = logging.getLogger("apprise")
            quiet, apprise_log.disabled = apprise_log.disabled, True  # it would log a bad URL whole
            try:
                for url, tag in stored:
                    combined.add(url, tag=tag)
            finally:
                apprise_log.disabled = quiet
            self._stored, self.channels = stored, combined
        return self.channels

    def _read_stored(self) -> list[tuple[str, str]]:
        with session_scope(self.database_url) as session:
            return [(url, tag) for url, tag in session.exec(
                select(NotificationChannel.url, NotificationChannel.tag).order_by(col(NotificationChannel.id))).all()]

    async def _on_duty(self, d: Deliver) -> list | None:
        """The personal channels of the parties' liaisons on duty now; None when the database cannot answer."""
        loop = asyncio.get_running_loop()
        at = datetime.now(UTC)
        try:
            found = await asyncio.wait_for(loop.run_in_executor(self.ledger_pool, self._read_on_duty, d.tags, at),
                                           LEDGER_TIMEOUT)
        except Exception as exc:  # the configured channels still get it
            log.warning("duty roster unavailable, the liaison on duty is not reached: %s", str(exc)[:200],
                        extra={"incident": d.human_id})
            return None
        servers = []
        apprise_log = logging.getLogger("apprise")
        quiet, apprise_log.disabled = apprise_log.disabled, True  # it would log a bad URL whole, secret included
        try:
            for tag, url in found:
                server = apprise.Apprise.instantiate(url, tag=tag)
                if server is None:
                    log.warning("a liaison on duty for %s has a notify URL apprise cannot use", tag,
                                extra={"incident": d.human_id})
                    continue
                servers.append(server)
        finally:
            apprise_log.disabled = quiet
        return servers

    def _read_on_duty(self, tags: list[str], at: datetime) -> list[tuple[str, str]]:
        with session_scope(self.database_url) as session:
            return personal_urls_on_duty(session, tags=tags, at=at)

    async def _ledger(self, fn, d: Deliver, arg):  # noqa: ANN001, ANN202 (one of the two ledger calls)
        """Run a ledger call with a deadline; None when the database cannot answer in time."""
        if not arg:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.ledger_pool, fn, d, arg), LEDGER_TIMEOUT)
        except Exception as exc:  # the database is away: send anyway, the workflow keeps the record
            log.warning("delivery ledger unavailable, sending without a claim: %s", str(exc)[:200],
                        extra={"incident": d.human_id})
            return None

    async def _await_own_claims(self, d: Deliver, claims: dict) -> dict:
        """The claims this very try already holds (MINE): it was asked again while it was posting, its workflow
        task retried under a local first try, or its activity retried. Wait, a bounded time, for that post to
        finish: then report what the ledger has (delivered), or claim again and post (it failed). A claim still
        held at the end is reported busy, as a rival's would be (the channel stays owed)."""
        mine = [c for c, claim in claims.items() if claim == MINE]
        out: dict = {}
        deadline = time.monotonic() + OWN_CLAIM_WAIT
        while mine:
            if time.monotonic() >= deadline:
                out.update({c: "busy" for c in mine})
                break
            await asyncio.sleep(OWN_CLAIM_POLL)
            again = await self._ledger(self._claim, d, mine) or {}
            # a channel the ledger no longer answers for (the database went away) is posted without a claim
            out.update({c: again.get(c) for c in mine if again.get(c) != MINE})
            mine = [c for c in mine if again.get(c) == MINE]
        return out

    def _claim(self, d: Deliver, channel_ids: list[str]) -> dict[str, str | tuple[str, datetime]]:
        """Claim (rung, channel) before posting: CLAIMED (post), (status, when) of the delivery the ledger
        holds (do not post), busy (another sender holds a live claim), MINE (this same try holds it: see
        `_await_own_claims`). SQL statements on a connection, not the ORM: it runs for every delivery."""
        out: dict[str, str | tuple[str, datetime]] = {}
        now = utcnow()
        with get_engine(self.database_url).begin() as conn:
            rows = {r.channel_id: r for r in conn.execute(sa.select(
                LEDGER.c.id, LEDGER.c.channel_id, LEDGER.c.status, LEDGER.c.claimed_at, LEDGER.c.updated_at,
                LEDGER.c.attempt,
            ).where(LEDGER.c.dedupe_key == d.dedupe_key, LEDGER.c.channel_id.in_(channel_ids)))}
            for channel_id in channel_ids:
                row = rows.get(channel_id)
                if row is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(sa.insert(LEDGER).values(
                                incident_id=d.incident_id or None, dedupe_key=d.dedupe_key, channel_id=channel_id,
                                status=CLAIMED, claimed_at=now, updated_at=now, attempt=d.attempt))
                        out[channel_id] = CLAIMED
                    except IntegrityError as exc:
                        if "unique" in str(exc.orig).lower():  # claimed a moment ago: by a rival, or by this
                            # same try asked twice at once; `_await_own_claims` looks again, in a fresh
                            # transaction (this one's snapshot may not show the row yet), and tells which
                            out[channel_id] = MINE
                        # else: the incident's row is not written yet (a workflow started without the API, its
                        # first record still under way): no claim can be held, so post without one
                        # (the workflow knows what each channel took)
                elif row.status in (DELIVERED, ACCEPTED):
                    out[channel_id] = (row.status, row.updated_at)
                elif row.status == CLAIMED and now - row.claimed_at < CLAIM_LEASE:
                    out[channel_id] = MINE if row.attempt == d.attempt else "busy"
                else:  # failed before, or claimed by a sender that died: take it over, if nobody else did
                    taken = conn.execute(sa.update(LEDGER).where(
                        LEDGER.c.id == row.id, LEDGER.c.status == row.status, LEDGER.c.claimed_at == row.claimed_at,
                    ).values(status=CLAIMED, claimed_at=now, updated_at=now, attempt=d.attempt))
                    out[channel_id] = CLAIMED if taken.rowcount == 1 else MINE  # lost a race: look again
        return out

    def _finish(self, d: Deliver, results: list[ChannelResult]) -> None:
        """Each posted channel's row to what the post did, in one statement (executemany); a delivered row stays."""
        if not results:
            return
        with get_engine(self.database_url).begin() as conn:
            conn.execute(FINISH.values(updated_at=utcnow()),
                         [{"key": d.dedupe_key, "channel": r.channel_id, "new_status": r.status} for r in results])

    @activity.defn(name="send_notification")
    async def send_notification(self, n: Notify) -> NotifyOutcome:
        attempt = activity.info().attempt
        matched = list((await self.current_channels()).find(tag=n.tags, match_always=False))
        already = await asyncio.to_thread(self._delivered_channels, n.dedupe_key)
        pending = [s for s in matched if s.url_id() not in already]
        outcome = NotifyOutcome(matched=len(matched), skipped=len(matched) - len(pending))
        if not matched:
            await asyncio.to_thread(self._log, [NotificationAttempt(
                incident_id=n.incident_id, dedupe_key=n.dedupe_key, kind=n.kind, tags=",".join(n.tags),
                channel_id=ids.NO_CHANNEL_ID, status=NO_CHANNEL, attempt=attempt,
                error=f"没有为标签 {', '.join(n.tags)} 配置通知渠道")])
            return outcome
        if not pending:
            return outcome
        title, body = compose(n, datetime.now(UTC))
        batch = apprise.Apprise()
        for service in pending:
            batch.add(service)
        result = await batch.async_notify(body=body, title=title, notify_type=NOTIFY_TYPES.get(n.kind))
        rows, failures = [], []
        for v in verdicts(result):
            rows.append(NotificationAttempt(
                incident_id=n.incident_id, dedupe_key=n.dedupe_key, kind=n.kind, tags=",".join(n.tags),
                channel_id=v.url_id or v.channel[:64], channel=v.channel, service=v.service, attempt=attempt,
                status=v.status, error="; ".join(v.errors)[:1000] if not v.ok else "",
            ))
            if v.ok:
                outcome.delivered += 1
            else:
                failures.append(f"{v.service}: {v.errors[-1] if v.errors else '发送失败'}")
        await asyncio.to_thread(self._log, rows)
        where = {"incident": n.human_id, "rung": ids.rung_in(n.dedupe_key), "attempt": attempt}
        log.info("%s %s sent to %d channel(s), %d failed, %d had it already", n.kind, where["rung"],
                 outcome.delivered, len(failures), outcome.skipped, extra=where)
        if failures:
            log.warning("notification channels failed: %s", "; ".join(failures)[:500], extra=where)
            raise ApplicationError(f"{len(failures)} 个通知渠道发送失败：" + "；".join(failures)[:500])
        return outcome

    def _delivered_channels(self, dedupe_key: str) -> set[str]:
        with session_scope(self.database_url) as session:
            rows = session.exec(
                select(NotificationAttempt.channel_id).where(
                    NotificationAttempt.dedupe_key == dedupe_key, NotificationAttempt.status != FAILED
                )
            ).all()
        return set(rows)

    def _log(self, rows: list[NotificationAttempt]) -> None:
        with session_scope(self.database_url) as session:
            session.add_all(rows)
            session.commit()


def _with_message_id(service, dedupe_id: str):  # noqa: ANN001, ANN202 (an apprise plugin)
    """The same channel, with the message's id in its JSON body where the plugin builds one."""
    if not hasattr(service, "payload_extras"):
        return service
    tagged = copy.copy(service)
    tagged.payload_extras = {**service.payload_extras, "desk_message_id": dedupe_id}
    return tagged
