"""Send one rung of a ladder through apprise, logging every attempt per channel.

Idempotent per (rung, channel): a channel that already received a rung (a retried activity, or a
worker that died after sending) is skipped, so nothing is sent twice. A channel that fails raises,
Temporal retries the activity with backoff, and the workflow escalates the failure to the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import apprise
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from desk.db import session_scope
from desk.messages import Notify, NotifyOutcome
from desk.models import NotificationAttempt
from desk.notify_text import compose

log = logging.getLogger("desk.notify")

# These plugins report any HTTP 200 as success, even when the platform rejected the message
# (DingTalk's keyword check, WeCom's errcode in a 200 body): the log says "accepted", not "delivered".
UNCONFIRMED_SERVICES = {"dingtalk", "wecombot", "feishu", "lark"}
DELIVERED, ACCEPTED, FAILED, NO_CHANNEL = "delivered", "accepted_unconfirmed", "failed", "no_channel"
NOTIFY_TYPES = {
    "reminder": apprise.NotifyType.WARNING,
    "breach": apprise.NotifyType.FAILURE,
    "repeat": apprise.NotifyType.FAILURE,
    "channel_failure": apprise.NotifyType.FAILURE,
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


_SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sign", re.IGNORECASE)


def redact(url: str) -> str:
    """apprise's privacy URL still shows custom headers (``+Authorization=Bearer …``) and some query
    tokens: mask those values too, so the notification log never holds a secret."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    params = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if value and (name.startswith("+") or _SECRET_PARAM.search(name)) and value != "****":
            value = "****"
        params.append((name, value))
    return f"{base}?{urlencode(params, safe='*')}"


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
            raise ChannelConfigError(f"notification config {path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
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


def _status(service: str, ok: bool) -> str:
    if not ok:
        return FAILED
    return ACCEPTED if service.split("://", 1)[0] in UNCONFIRMED_SERVICES else DELIVERED


class Notifier:
    def __init__(self, channels: apprise.Apprise, database_url: str | None = None) -> None:
        self.channels = channels
        self.database_url = database_url

    @activity.defn(name="send_notification")
    async def send_notification(self, n: Notify) -> NotifyOutcome:
        attempt = activity.info().attempt
        matched = list(self.channels.find(tag=n.tags, match_always=False))
        already = await asyncio.to_thread(self._delivered_channels, n.dedupe_key)
        pending = [s for s in matched if s.url_id() not in already]
        outcome = NotifyOutcome(matched=len(matched), skipped=len(matched) - len(pending))
        if not matched:
            await asyncio.to_thread(self._log, [NotificationAttempt(
                incident_id=n.incident_id, dedupe_key=n.dedupe_key, kind=n.kind, tags=",".join(n.tags),
                channel_id="none", status=NO_CHANNEL, attempt=attempt,
                error=f"没有为标签 {', '.join(n.tags)} 配置通知渠道")])
            return outcome
        if not pending:
            return outcome
        title, body = compose(n, datetime.now(timezone.utc))
        batch = apprise.Apprise()
        for service in pending:
            batch.add(service)
        result = await batch.async_notify(body=body, title=title, notify_type=NOTIFY_TYPES.get(n.kind))
        rows, failures = [], []
        for r in result:
            ok = bool(r)
            errors = [e.message for e in r.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
            rows.append(NotificationAttempt(
                incident_id=n.incident_id, dedupe_key=n.dedupe_key, kind=n.kind, tags=",".join(n.tags),
                channel_id=r.url_id or redact(r.url)[:64], channel=redact(r.url)[:500], service=r.name[:64], attempt=attempt,
                status=_status(r.url, ok), error="; ".join(errors)[:1000] if not ok else "",
            ))
            if ok:
                outcome.delivered += 1
            else:
                failures.append(f"{r.name}: {errors[-1] if errors else '发送失败'}")
        await asyncio.to_thread(self._log, rows)
        where = {"incident": n.human_id, "rung": n.dedupe_key.split("/", 1)[-1], "attempt": attempt}
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
