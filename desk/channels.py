"""Notification channels kept in the database (the admin pages), beside the ``DESK_NOTIFY_CONFIG`` file.

A channel is one apprise URL answering to one tag of the ladder: a party (its code), its leadership
(``<code>-leaders``) or the city supervisor (``supervisor``); it may belong to a person (their own WeCom or
e-mail) rather than a group. The URL is checked with apprise before it is saved and is never shown again:
pages, logs and the audit log see its masked form. Delivery (activities/notify.py) reads the rows itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import apprise
from sqlmodel import Session, col, select

from desk import audit
from desk.errors import InvalidInput
from desk.masking import redact, scrub
from desk.models import NotificationChannel, Party, User
from desk.timefmt import SHANGHAI
from desk.vocab import Audience, AuditAction, DeliveryStatus

# These plugins report any HTTP 200 as success, even when the platform rejected the message (see notify.py).
UNCONFIRMED_SERVICES = {"dingtalk", "wecombot", "feishu", "lark"}
TEST_TITLE = "【测试】舆情回应台通知渠道"


@contextmanager
def _apprise_quiet() -> Iterator[None]:
    """apprise logs the whole URL of one it cannot parse (the secret included): not into the desk's logs."""
    apprise_log = logging.getLogger("apprise")
    quiet, apprise_log.disabled = apprise_log.disabled, True
    try:
        yield
    finally:
        apprise_log.disabled = quiet


def plugin_for(url: str):  # noqa: ANN201 (an apprise plugin, or None)
    with _apprise_quiet():
        return apprise.Apprise.instantiate(url.strip())


def masked(plugin) -> str:  # noqa: ANN001 (an apprise plugin)
    return redact(plugin.url(privacy=True))[:500]


def tag_for(audience: str, party_code: str | None) -> str:
    return "supervisor" if audience == Audience.supervisor else \
        f"{party_code}-leaders" if audience == Audience.leaders else \
        f"{party_code}-on-duty" if audience == Audience.on_duty else str(party_code)


def all_channels(session: Session) -> list[NotificationChannel]:
    return list(session.exec(select(NotificationChannel).order_by(col(NotificationChannel.tag),
                                                                  col(NotificationChannel.id))).all())


def stored_tags(session: Session) -> set[str]:
    """The tags some channel in the database answers to (desk.coverage adds the config file's)."""
    return set(session.exec(select(NotificationChannel.tag)).all())


def add_channel(session: Session, *, audience: str, url: str, party_code: str | None = None,
                user_id: int | None = None, label: str = "", actor: str, commit: bool = True) -> NotificationChannel:
    """Check and save a channel; the audit entry names its masked URL, never the URL."""
    if audience not in tuple(Audience):
        raise InvalidInput("请选择接收范围", code="channel.audience_unknown", field="audience")
    person = session.get(User, user_id) if user_id else None
    if user_id and person is None:
        raise InvalidInput("请从列表中选择人员", code="channel.person_unknown", field="user")
    if audience == Audience.on_duty and person is None:
        raise InvalidInput("“值班时本人接收”须选择一名人员", code="channel.person_missing", field="user")
    party_code = party_code or (person.party_code if person is not None else None)
    if audience != Audience.supervisor:
        if not party_code:
            raise InvalidInput("请选择责任单位（发给单位或单位领导的渠道须属于一个单位）", code="channel.party_missing",
                               field="party")
        if session.get(Party, party_code) is None:
            raise InvalidInput(f"未知的责任单位代码：{party_code}", code="party.unknown", field="party",
                               params={"party": party_code})
    else:
        party_code = None
    url = url.strip()
    if not url:
        raise InvalidInput("请填写通知地址（apprise URL，如 wecombot://…、dingtalk://…、mailto://…）",
                           code="channel.url_missing", field="url")
    if len(url) > 2000:
        raise InvalidInput("通知地址不能超过 2000 个字符", code="channel.url_too_long", field="url", params={"n": 2000})
    plugin = plugin_for(url)
    if plugin is None:
        raise InvalidInput("apprise 无法识别这个通知地址（未知的服务或格式有误），请核对后重新填写",
                           code="channel.url_invalid", field="url")
    channel = NotificationChannel(party_code=party_code, user_id=person.id if person else None, audience=audience,
                                  tag=tag_for(audience, party_code), url=url, masked=masked(plugin),
                                  service=str(plugin.service_name)[:64], label=label.strip()[:100], created_by=actor)
    session.add(channel)
    session.flush()
    audit.record(session, actor=actor, action=AuditAction.channel_added, target=f"#{channel.id} {channel.tag}",
                 detail={"channel": channel.masked, "person": person.username if person else ""})
    if commit:
        session.commit()
    return channel


def remove_channel(session: Session, channel: NotificationChannel, *, actor: str, commit: bool = True) -> None:
    audit.record(session, actor=actor, action=AuditAction.channel_removed, target=f"#{channel.id} {channel.tag}",
                 detail={"channel": channel.masked})
    session.delete(channel)
    if commit:
        session.commit()


@dataclass
class TestOutcome:
    """What apprise reported for a test message: its verdict and its own log lines (secrets masked)."""

    ok: bool
    status: str  # delivered | accepted_unconfirmed | failed (desk.vocab.DeliveryStatus)
    service: str
    lines: list[str] = field(default_factory=list)


def send_test(session: Session, channel: NotificationChannel, *, actor: str) -> TestOutcome:
    """Post a test message to the channel with apprise, now, and say what apprise reported."""
    plugin = plugin_for(channel.url)
    if plugin is None:  # saved by an older apprise that knew the service
        outcome = TestOutcome(False, DeliveryStatus.failed, channel.service,
                              ["apprise 无法识别这个通知地址（未知的服务或格式有误）"])
    else:
        batch = apprise.Apprise()
        batch.add(plugin)
        now = datetime.now(UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        body = (f"这是一条测试消息，由 {actor} 于 {now}（北京时间）在管理页面发送。"
                f"收到即说明本渠道（{tag_for(channel.audience, channel.party_code)}）可以收到舆情回应台的提醒和督办。")
        result = batch.notify(body=body, title=TEST_TITLE, notify_type=apprise.NotifyType.INFO)
        lines: list[str] = []
        for r in result:
            lines += [f"{e.level}: {scrub(e.message, channel.url, channel.masked)}" for e in r.logs()]
        ok = bool(result)
        status = DeliveryStatus.failed if not ok else DeliveryStatus.accepted_unconfirmed \
            if channel.url.split("://", 1)[0].lower() in UNCONFIRMED_SERVICES else DeliveryStatus.delivered
        outcome = TestOutcome(ok, status, str(plugin.service_name), lines[-10:])
    audit.record(session, actor=actor, action=AuditAction.channel_tested, target=f"#{channel.id} {channel.tag}",
                 detail={"channel": channel.masked, "status": outcome.status})
    session.commit()
    return outcome


def people_with_channels(session: Session) -> dict[int, User]:
    ids = {c.user_id for c in all_channels(session) if c.user_id}
    found = session.exec(select(User).where(col(User.id).in_(ids))).all() if ids else []
    return {u.id: u for u in found if u.id is not None}

