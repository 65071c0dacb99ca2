"""The report schedules (Temporal Schedules), made from the settings whenever a worker starts.

One schedule per report kind, under a fixed id (``{task queue}-report-weekly`` / ``-monthly``), so several
workers starting together, or one restarting, leave one of each: the first creates it, the others find it.
The settings it was made from are fingerprinted in its note (shown in the Temporal UI); a worker whose
settings differ updates it, one whose settings are the same leaves it alone (a pause set by hand stays).
A report turned off in the settings stays listed, paused, with a note saying so.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from desk.messages import ReportInput
from desk.settings import Settings
from desk.vocab import ReportKind
from workflows.report import ReportWorkflow

log = logging.getLogger("desk.schedules")

NOTE = "舆情回应台按设置创建 / made by the desk from its settings"
# A desk that was down at the scheduled time still sends the report when it is back within this window.
CATCHUP = timedelta(days=1)


@dataclass(frozen=True)
class ReportSchedule:
    schedule_id: str
    kind: str
    enabled: bool
    cron: str
    tags: list[str]
    schedule: Schedule
    fingerprint: str


def schedule_id(task_queue: str, kind: str) -> str:
    return f"{task_queue}-report-{kind}"


def wanted(settings: Settings, *, task_queue: str | None = None) -> list[ReportSchedule]:
    """The report schedules these settings ask for, as Temporal schedules."""
    queue = task_queue or settings.temporal_task_queue
    out = []
    for kind, enabled, cron, tags in (
            (ReportKind.weekly, settings.report_weekly, settings.report_weekly_cron, settings.report_weekly_tags),
            (ReportKind.monthly, settings.report_monthly, settings.report_monthly_cron, settings.report_monthly_tags)):
        tag_list = [t.strip() for t in tags.split(",") if t.strip()]
        inp = ReportInput(kind=kind, tags=tag_list, format=settings.report_format,
                          public_url=settings.resolved_public_url)
        fingerprint = hashlib.sha256(json.dumps(
            [queue, enabled, cron, settings.report_time_zone, tag_list, inp.format, inp.public_url],
            ensure_ascii=False).encode()).hexdigest()[:16]
        sid = schedule_id(queue, kind)
        note = f"{NOTE} · {'' if enabled else '设置中已关闭 / turned off in the settings · '}settings {fingerprint}"
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(ReportWorkflow.run, inp, id=sid, task_queue=queue,
                                               execution_timeout=timedelta(days=1)),
            spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=settings.report_time_zone),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP),
            state=ScheduleState(paused=not enabled, note=note))
        out.append(ReportSchedule(sid, kind, enabled, cron, tag_list, schedule, fingerprint))
    return out


async def ensure_report_schedules(client: Client, settings: Settings, *,
                                  task_queue: str | None = None) -> dict[str, str]:
    """Create or update the report schedules; returns each schedule's id and what was done to it
    (created, updated, unchanged)."""
    done = {}
    for s in wanted(settings, task_queue=task_queue):
        try:
            await client.create_schedule(s.schedule_id, s.schedule)
            done[s.schedule_id] = "created"
        except ScheduleAlreadyRunningError:
            handle = client.get_schedule_handle(s.schedule_id)
            current = await handle.describe()
            if f"settings {s.fingerprint}" in (current.schedule.state.note or ""):
                done[s.schedule_id] = "unchanged"
                continue

            def replace(_: ScheduleUpdateInput, schedule: Schedule = s.schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await handle.update(replace)
            done[s.schedule_id] = "updated"
        log.info("report schedule %s %s (%s, %s, tags %s)", s.schedule_id, done[s.schedule_id],
                 s.cron if s.enabled else "off", settings.report_time_zone, ",".join(s.tags))
    return done
