"""The scheduled reports' side effects: make the file (desk.reports writes the 通报 of the period; the blob
store keeps it) and send it through apprise to the tags' channels, recording each channel's answer on the
run's row (``ReportRun``: who got what, when).

E-mail channels (``mailto://``, ``mailtos://``) get the file attached; every other channel (WeCom, DingTalk,
Feishu bots, json:// …) gets a link to it, which answers only after the desk's login. A retry of the send
posts only to the channels that have not taken it yet (the row says which did).
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import apprise
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify import Notifier, verdicts
from desk import reports, stats
from desk.blobs import BlobStore
from desk.db import session_scope
from desk.messages import MakeReport, ReportMade, ReportSent, SendReport
from desk.models import ReportRun
from desk.vocab import DELIVERED_STATUSES, DeliveryStatus, ReportKind, ReportStatus

log = logging.getLogger("desk.reports")

EMAIL_SCHEMES = ("mailto", "mailtos")
KIND_PREFIX: dict[str, str] = {ReportKind.weekly: "【周报】", ReportKind.monthly: "【月度通报】"}


def report_link(public_url: str, run_id: int) -> str:
    """Where a run's file is downloaded (api/web/reports.py), after the login."""
    return f"{public_url.rstrip('/')}/reports/runs/{run_id}/file"


def _attachment_name(row: ReportRun) -> str:
    """The file's name in an e-mail: ASCII (apprise writes a Chinese one as an encoded word over the whole
    Content-Disposition header, which mail clients read as a nameless attachment); the message names the
    report in Chinese."""
    fmt = row.filename.rpartition(".")[2]
    return f"{row.kind}-report-{row.period}.{fmt}"


def _is_email(server) -> bool:  # noqa: ANN001 (an apprise plugin)
    return str(server.url()).split("://", 1)[0].lower() in EMAIL_SCHEMES


class Reporter:
    def __init__(self, notifier: Notifier, blobs: BlobStore, database_url: str | None = None) -> None:
        self.notifier = notifier
        self.blobs = blobs
        self.database_url = database_url

    @activity.defn(name="make_report")
    def make_report(self, m: MakeReport) -> ReportMade:
        with session_scope(self.database_url) as session:
            row = _run(session, m.run_key)
            if row is None:
                row = self._make(session, m)
            assert row.id is not None
            return ReportMade(run_id=row.id, title=row.title, summary=row.summary, filename=row.filename,
                              link=report_link(m.public_url, row.id))

    def _make(self, session: Session, m: MakeReport) -> ReportRun:
        period = reports.ReportPeriod(stats.Period(date.fromisoformat(m.start), date.fromisoformat(m.end)), m.period_name,
                                      m.period)
        doc = reports.bulletin(session, period)
        stored = self.blobs.put(io.BytesIO(reports.render(doc, m.format)))
        first = doc.sections[0].blocks[0] if doc.sections and doc.sections[0].blocks else None
        summary = first.text if isinstance(first, reports.Paragraph) else ""
        row = ReportRun(run_key=m.run_key, kind=m.kind, period=m.period, period_name=m.period_name,
                        title=doc.title[:300], summary=summary[:2000], filename=f"{doc.filename}.{m.format}"[:200],
                        sha256=stored.sha256, size=stored.size, tags=list(m.tags))
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # a retry racing the first try: theirs stands (the same bytes, the same blob)
            session.rollback()
            found = _run(session, m.run_key)
            assert found is not None
            return found
        log.info("report %s %s made: %s (%d bytes)", m.kind, m.period, row.filename, stored.size)
        return row

    @activity.defn(name="send_report")
    async def send_report(self, s: SendReport) -> ReportSent:
        channels = await self.notifier.current_channels()
        matched = {server.url_id(): server for server in channels.find(tag=s.tags, match_always=False)}
        row = await asyncio.to_thread(self._row, s.run_id)
        done = {d["channel_id"] for d in row.deliveries if d.get("status") in DELIVERED_STATUSES}
        todo = [server for channel_id, server in matched.items() if channel_id not in done]
        results: list[dict] = []
        if todo:
            prefix = KIND_PREFIX.get(row.kind, "")
            link_text = f"文件（登录后下载）：{s.link}"
            with tempfile.TemporaryDirectory(prefix="desk-report-") as folder:
                emails = [server for server in todo if _is_email(server)]
                bots = [server for server in todo if not _is_email(server)]
                if emails:
                    path = Path(folder) / _attachment_name(row)
                    with path.open("wb") as out:
                        for chunk in self.blobs.read(row.sha256):
                            out.write(chunk)
                    results += await _post(emails, title=prefix + s.title, attach=str(path),
                                           body=f"{s.summary}\n\n附件：{row.filename}（{_attachment_name(row)}）\n{link_text}")
                if bots:
                    results += await _post(bots, title=prefix + s.title, body=f"{s.summary}\n\n{link_text}")
        row = await asyncio.to_thread(self._record, s.run_id, results, not matched, activity.info().attempt)
        failed = [r for r in results if r["status"] == DeliveryStatus.failed]
        delivered = len([d for d in row.deliveries if d.get("status") in DELIVERED_STATUSES])
        log.info("report %s: %d channel(s) of %s, %d posted now, %d failed", s.run_key, len(matched),
                 ",".join(s.tags), len(results), len(failed))
        if failed and activity.info().attempt < s.max_attempts:
            raise ApplicationError(f"{len(failed)} 个通知渠道未收到报告：" +
                                   "；".join(f"{r['service']}: {r['error']}" for r in failed)[:500])
        return ReportSent(status=row.status, delivered=delivered, failed=len(failed))

    def _row(self, run_id: int) -> ReportRun:
        with session_scope(self.database_url) as session:
            row = session.get(ReportRun, run_id)
            if row is None:
                raise ApplicationError(f"report run {run_id} is gone", non_retryable=True)
            return row

    def _record(self, run_id: int, results: list[dict], no_channel: bool, attempt: int) -> ReportRun:
        """Each channel's latest answer on the row, and where the run stands."""
        with session_scope(self.database_url) as session:
            row = session.get(ReportRun, run_id)
            assert row is not None
            by_channel = {d["channel_id"]: d for d in row.deliveries}
            for r in results:
                by_channel[r["channel_id"]] = {**r, "attempt": attempt}
            if no_channel:
                by_channel = {"-": {"channel_id": "-", "channel": "", "service": "", "status": DeliveryStatus.no_channel,
                                    "error": f"没有为标签 {','.join(row.tags)} 配置通知渠道",
                                    "at": datetime.now(UTC).isoformat(), "attempt": attempt}}
            row.deliveries = list(by_channel.values())
            taken = [d for d in row.deliveries if d["status"] in DELIVERED_STATUSES]
            row.status = (ReportStatus.delivered if taken and len(taken) == len(row.deliveries)
                          else ReportStatus.partly if taken else ReportStatus.failed)
            if taken and row.sent_at is None:
                row.sent_at = datetime.now(UTC)
            session.add(row)
            session.commit()
            session.refresh(row)
            return row


def _run(session: Session, run_key: str) -> ReportRun | None:
    return session.exec(select(ReportRun).where(ReportRun.run_key == run_key)).first()


async def _post(servers: list, *, title: str, body: str, attach: str | None = None) -> list[dict]:
    """One post to each server; each one's answer as a delivery of the row."""
    batch = apprise.Apprise()
    for server in servers:
        batch.add(server)
    outcome = await batch.async_notify(body=body, title=title, notify_type=apprise.NotifyType.INFO, attach=attach)
    return [{"channel_id": v.url_id, "channel": v.channel, "service": v.service, "status": v.status, "error": v.error,
             "at": datetime.now(UTC).isoformat()} for v in verdicts(outcome)]
