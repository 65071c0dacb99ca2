"""Notification text, written for a busy person on a phone, in Chinese."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from desk import glossary
from desk.messages import Deliver, Notify
from desk.timefmt import SHANGHAI, duration_zh
from desk.vocab import Level, NotificationKind

# The messages go out in Chinese whoever reads them, written here (the domain cannot use the pages' catalog).
LEVEL_NAMES: dict[str, str] = {Level.I: "特别重大(I级)", Level.II: "重大(II级)", Level.III: "较大(III级)", Level.IV: "一般(IV级)"}
KIND_TITLES: dict[str, str] = {str(k): v for k, v in glossary.NOTIFICATION_TITLES.items()}


def human_span(delta: timedelta) -> str:
    """3小时20分 / 45分 / 48小时 / 5天3小时 (desk.timefmt: the one duration rule)."""
    return duration_zh(delta.total_seconds())


def local_time(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


def message_id(dedupe_key: str) -> str:
    """A short, stable id per message (incident + rung): the same message sent twice has the same id."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]


def compose(n: Notify | Deliver, now: datetime) -> tuple[str, str]:
    """Return (title, body) for one notification."""
    if n.kind == NotificationKind.handover_unconfirmed:
        return _handover(n, now)
    drill = "【演练】" if n.drill else ""
    title = f"{drill}{KIND_TITLES.get(n.kind, '【通知】')}{n.human_id} {n.title}"[:250]
    lines = [
        f"{drill}{KIND_TITLES.get(n.kind, '')}{LEVEL_NAMES.get(n.level, n.level)} {n.human_id}",
        f"事件：{n.title}",
        f"责任单位：{n.party_name}",
    ]
    if n.milestone_label:
        lines.append(f"事项：{n.milestone_label}")
    if n.due_at is not None:
        lines.append(f"时限：{local_time(n.due_at)}（北京时间）")
        left = n.due_at - now
        lines.append(f"剩余：{human_span(left)}" if left > timedelta(0) else f"已超时：{human_span(left)}")
    if n.kind == NotificationKind.assigned:
        lines.append("请立即签收，并在时限内发布权威信息。")
        if n.detail:
            lines.append(f"时限：{n.detail}"[:400])
    if n.kind == NotificationKind.urge:
        lines.append(f"督办意见：{n.detail}"[:1200])
    if n.kind == NotificationKind.channel_failure:
        lines.append(f"原因：通知多次发送失败，请检查该单位的通知渠道。{n.detail}"[:400])
    if n.link:
        lines.append(f"处理：{n.link}")
    if isinstance(n, Deliver):  # the receiver drops a repeat of the same id (a crash between post and log)
        lines.append(f"消息编号：{message_id(n.dedupe_key)}")
    return title, "\n".join(lines)


def _handover(n: Notify | Deliver, now: datetime) -> tuple[str, str]:
    """【交接班未确认】: ``title`` says who handed over to whom, ``detail`` when; ``due_at`` the confirmation's time."""
    head = KIND_TITLES[NotificationKind.handover_unconfirmed]
    lines = [f"{head}值班交接：{n.title}"]
    if n.detail:
        lines.append(n.detail[:400])
    if n.due_at is not None:
        lines.append(f"确认时限：{local_time(n.due_at)}（北京时间），已超时：{human_span(n.due_at - now)}")
    lines.append("接班人员尚未确认接班，请督促确认或另行安排值班。")
    if n.link:
        lines.append(f"处理：{n.link}")
    if isinstance(n, Deliver):
        lines.append(f"消息编号：{message_id(n.dedupe_key)}")
    return f"{head}{n.title}"[:250], "\n".join(lines)
