"""Reports: the post-incident review of an incident with 1,000 timeline events, and the monthly 通报 over a
history of 100,000 incidents, each as .docx and PDF (the 通报 also as .xlsx).

Run: python -m bench reports [--incidents N] [--timeline-events K] [--backends sqlite,postgresql] [--runs 5]
                             [--quick]

The history is the board benchmark's (bench/board.py: five years, loaded in bulk); one more incident gets
K timeline events (releases, reminders with their delivery attempts, notes, escalations) and K/5
notification attempts. Timed in the same run, with p50/p95 of:

- the desk's own calls, as the page routes make them: the review's record read and worded (with the incident
  page's timeline renderer) then written as .docx or PDF; the 通报 computed from the assessment (its memory
  cleared first: a month nobody asked for yet) then written as .docx, PDF or .xlsx;
- a baseline: the same SQL run bare on a raw connection (the review's rows; the assessment's statements and the
  missed-deadline list), so the ratio says what making the document costs over reading its data.

Targets: the review <= 2 s, the 通报 <= 10 s (p95, each format). The desk's CPU seconds (this process's, p50)
are printed too: on a shared machine the wall time grows with the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlmodel import col, select

from api.web.reports import review_document
from bench.board import bare_statement, generate, load, quantile, run_bare
from bench.common import on_each_database, sql_bench_arguments
from desk import reports, stats
from desk.db import get_engine, init_db, session_scope
from desk.models import Incident, Milestone, NotificationAttempt, TimelineEvent, User
from desk.users import create_user

TARGETS = {"review .docx": 2.0, "review PDF": 2.0, "通报 .docx (1 month)": 10.0, "通报 PDF (1 month)": 10.0,
           "通报 .xlsx (1 month)": 10.0}
KINDS = ("reminder_sent", "note", "released", "escalated", "update", "escalation_repeated", "urged", "note")


def add_long_incident(url: str, events: int, now: datetime) -> str:
    """One incident with ``events`` timeline events and a fifth as many delivery attempts."""
    detected = now - timedelta(days=40)
    with session_scope(url) as s:
        if s.exec(select(User).where(User.username == "bench-super")).first() is None:
            create_user(s, username="bench-super", password="bench-password-1", role="supervisor",
                        display_name="督办人员")
        incident = Incident(human_id="YQ-BENCH-LONG", workflow_id="incident-bench-long", title="长期处置的基准事件：某水库泄洪",
                            summary="持续发布处置进展的事件。", source="weibo", category="natural_disaster", level="II",
                            party_code="bazhou", status="open", detected_at=detected, opened_at=detected)
        s.add(incident)
        s.flush()
        for key, hours, state in (("acknowledge", 1, "met"), ("first_release", 48, "met_late"),
                                  ("press_conference", 24, "met"), ("follow_up", 24 * 41, "pending")):
            s.add(Milestone(incident_id=incident.id, key=key, label=stats.MILESTONE_LABELS[key],
                            due_at=detected + timedelta(hours=hours), state=state,
                            met_at=detected + timedelta(hours=hours * 0.8 if state == "met" else hours + 3)
                            if state != "pending" else None))
        for seq in range(1, events + 1):
            kind = "opened" if seq == 1 else KINDS[seq % len(KINDS)]
            at = detected + timedelta(minutes=55 * seq)
            payload: dict = {"milestone": "follow_up"}
            if kind in ("released", "update"):
                payload = {"released_at": at.isoformat(), "channel": "政府网站", "url": f"https://www.bazhong.gov.cn/{seq}",
                           "summary": f"第 {seq} 次发布处置进展：转移群众、抢修道路、恢复供水。", "met": []}
            elif kind in ("reminder_sent", "escalated", "escalation_repeated"):
                payload.update(tags=["bazhou", "bazhou-leaders", "supervisor"], matched=3, delivered=3)
            elif kind in ("note", "urged"):
                payload = {"text": f"第 {seq} 条记录：现场情况更新。"}
            s.add(TimelineEvent(incident_id=incident.id, event_key=f"incident-bench-long/{seq}", seq=seq, kind=kind,
                                actor="system" if kind.endswith(("sent", "escalated", "repeated")) else "bench-super",
                                at=at, payload=payload))
        for n in range(events // 5):
            s.add(NotificationAttempt(incident_id=incident.id, attempt_key=f"bench-long/{n}", dedupe_key=f"bench-long/{n // 3}",
                                      kind="reminder", tags="bazhou,bazhou-leaders,supervisor", channel_id=f"c{n % 3}",
                                      channel="json://receiver/…", service="JSON", status="failed" if n % 17 == 0 else
                                      "delivered", at=detected + timedelta(minutes=55 * n + 1)))
        s.commit()
    return "YQ-BENCH-LONG"


def measure(call, runs: int, warmup: int = 1) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """Wall and CPU (this process) seconds of each timed run."""
    for _ in range(warmup):
        call()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def bench_backend(url: str, args, now: datetime) -> list[tuple]:
    init_db(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        parties = [r[0] for r in conn.execute(text("SELECT code FROM party WHERE active ORDER BY code"))]
    counts = load(url, generate(args.incidents, 10, now, parties))
    human_id = add_long_incident(url, args.timeline_events, now)
    print(f"  loaded {counts[0]:,} incidents, {counts[1]:,} milestones, {counts[2]:,} timeline events; "
          f"{human_id} with {args.timeline_events:,} events", flush=True)

    today = now.astimezone(stats.SHANGHAI).date()
    last = date(today.year, today.month, 1) - timedelta(days=1)
    month = reports.report_period(f"{last.year}-{last.month:02d}")

    def review(fmt: str | None):
        with session_scope(url) as s:
            viewer = s.exec(select(User).where(User.username == "bench-super")).one()
            doc = review_document(s, human_id, viewer, "zh")
        return reports.html_body(doc) if fmt is None else reports.render(doc, fmt)

    def bulletin(fmt: str):
        stats.clear_cache()
        with session_scope(url) as s:
            doc = reports.bulletin(s, month, now=now)
        return reports.render(doc, fmt)

    with session_scope(url) as s:
        incident_id = s.exec(select(Incident.id).where(Incident.human_id == human_id)).one()
        review_bare = [bare_statement(engine, q) for q in (
            select(Incident).where(col(Incident.human_id) == human_id),
            select(TimelineEvent).where(col(TimelineEvent.incident_id) == incident_id).order_by(col(TimelineEvent.seq)),
            select(NotificationAttempt).where(col(NotificationAttempt.incident_id) == incident_id),
            select(Milestone).where(col(Milestone.incident_id) == incident_id))]
        bulletin_bare = [bare_statement(engine, q) for q in stats.assessment_statements(s, month.period, None, now)]
        doc = reports.bulletin(s, month, now=now)
    rows = sum(len(b.rows) for sec in doc.sections for b in sec.blocks if isinstance(b, reports.Table))
    pdf = bulletin("pdf")
    print(f"  通报 {month.name}: {rows:,} table rows, PDF {len(pdf) / 1e6:.1f} MB; "
          f"review PDF {len(review('pdf')) / 1e6:.1f} MB", flush=True)

    results = []
    for name, call, bare in (
        ("review page (HTML)", lambda: review(None), review_bare),
        ("review .docx", lambda: review("docx"), review_bare),
        ("review PDF", lambda: review("pdf"), review_bare),
        ("通报 .docx (1 month)", lambda: bulletin("docx"), bulletin_bare),
        ("通报 PDF (1 month)", lambda: bulletin("pdf"), bulletin_bare),
        ("通报 .xlsx (1 month)", lambda: bulletin("xlsx"), bulletin_bare),
    ):
        desk_times, desk_cpu = measure(call, args.runs)
        bare_times, _ = measure(lambda bare=bare: run_bare(engine, bare), args.runs, warmup=2)
        results.append((name, desk_times, desk_cpu, bare_times))
    return results


def print_results(results: list[tuple]) -> bool:
    ok = True
    print(f"\n  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine slows both)")
    print(f"  {'document':<26}{'desk p50':>10}{'desk p95':>10}{'CPU p50':>9}{'bare SQL p95':>14}{'ratio':>9}"
          f"{'target':>12}")
    for name, desk_times, desk_cpu, bare_times in results:
        dp50, dp95, bp95 = quantile(desk_times, 0.5), quantile(desk_times, 0.95), quantile(bare_times, 0.95)
        target = TARGETS.get(name)
        met = target is None or dp95 <= target
        ok &= met
        verdict = f"≤{target:.0f}s {'ok' if met else 'MISSED'}" if target else "—"
        pad = 26 - sum(2 if ord(c) > 0x2E80 else 1 for c in name) + len(name)
        print(f"  {name:<{pad}}{dp50:>9.2f}s{dp95:>9.2f}s{quantile(desk_cpu, 0.5):>8.2f}s{bp95 * 1000:>12.1f}ms"
              f"{dp95 / bp95 if bp95 else 0:>8.0f}x"
              f"{verdict:>12}")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench reports", description=__doc__.split("\n\n")[0])
    sql_bench_arguments(p, runs_help="timed runs of each document (default 5)")
    p.add_argument("--timeline-events", type=int, default=1000)
    p.set_defaults(runs=5, backends="sqlite")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.runs, args.timeline_events = 2_000, 2, 100
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"bench reports: {args.incidents:,} incidents, a review of {args.timeline_events:,} timeline events, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print("== reports")
    return on_each_database("reports", args, lambda backend, url: print_results(bench_backend(url, args, now)))


if __name__ == "__main__":
    sys.exit(main())
