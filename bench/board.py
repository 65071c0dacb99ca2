"""Board, assessment and CSV export on a big history: 100,000 incidents, 1,000,000 timeline events.

Run: python -m bench board [--incidents N] [--events-per-incident K] [--backends sqlite,postgresql]
                           [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--runs 40]

For each backend (a SQLite file in a temp dir; a fresh PostgreSQL database, dropped afterwards) it makes
the schema with the desk's migrations, bulk-loads five years of history (executemany on SQLite, COPY on
PostgreSQL), then times, in the same run:

- the desk's own functions, as the pages and the API call them (SQLAlchemy, result types, formatting);
- a baseline: the same SQL statements, compiled once, run bare on a raw DBAPI connection (fetchall),

and prints p50/p95 of each with the ratio. Targets: board and assessment p95 <= 50 ms; the CSV of a
year (one row per incident and milestone, the detail export) <= 2 s.

The assessment is timed twice: as the pages see it (a period nobody wrote to since: the remembered
report after its stamp checks, baseline the stamp's SQL) and cold (memory cleared before every run, as
after a write to one of the period's incidents; baseline the whole assessment SQL). The cold row has
no target: grouping a year's 40,000 milestones costs more than 50 ms on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from bench.common import on_each_database, sql_bench_arguments
from desk import stats
from desk.board import BoardFilters, board, board_statements
from desk.db import get_engine, init_db, session_scope

UTC = UTC
YEARS = 5
LEVELS = (("I", 0.01), ("II", 0.05), ("III", 0.24), ("IV", 0.70))
CATEGORIES = ("natural_disaster", "accident", "public_health", "social_security", "public_opinion")
SOURCES = ("web", "weibo", "wechat", "short_video", "hotline_12345", "leader_mailbox", "other")
DUE_H = {"acknowledge": 1, "first_release": 48, "press_conference": 24}
OPEN_SHARE = 0.01  # about a thousand incidents open at once: a busy city (the board lists the first 500)
TARGETS = {"board": 0.050, "assessment (1 year)": 0.050, "CSV export (1 year, detail)": 2.0}


# --- the history ------------------------------------------------------------------------------------


def _level(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for level, share in LEVELS:
        acc += share
        if x < acc:
            return level
    return "IV"


def generate(n_incidents: int, events_per: int, now: datetime, parties: list[str], seed: int = 7):
    """Yield (incident, milestones, events) tuples, oldest first, spread evenly over five years."""
    rng = random.Random(seed)
    span = timedelta(days=365 * YEARS).total_seconds()
    start = now - timedelta(days=365 * YEARS)
    open_from = n_incidents - int(n_incidents * OPEN_SHARE)
    for i in range(1, n_incidents + 1):
        is_open = i > open_from
        if is_open:  # open ones surfaced in the last two days
            detected = now - timedelta(seconds=rng.uniform(60, 2 * 86400))
        else:
            detected = start + timedelta(seconds=span * (i / n_incidents) + rng.uniform(0, 600))
        level = _level(rng)
        party = parties[rng.randrange(len(parties))]
        drill = rng.random() < 0.02
        keys = ["acknowledge", "first_release"] + (["press_conference"] if level == "I" else [])
        milestones, last_at = [], detected
        for key in keys:
            due = detected + timedelta(hours=DUE_H[key])
            x = rng.random()
            if is_open and (x < 0.2 or (key != "acknowledge" and x < 0.7)):
                state, met = ("overdue" if due <= now else "pending"), None
            elif x < 0.02:
                state, met = "waived", None
            elif x < 0.12:
                state, met = "met_late", due + timedelta(hours=rng.uniform(0.1, 30))
            else:
                state, met = "met", detected + (due - detected) * rng.uniform(0.05, 1.0)
            if met is not None and met > now:
                state, met = ("overdue" if due <= now else "pending"), None
            milestones.append((key, stats.MILESTONE_LABELS[key], due, state, met))
            last_at = max(last_at, met or detected)
        open_dues = [m[2] for m in milestones if m[3] in ("pending", "overdue")]
        next_due = min(open_dues) if is_open and open_dues else None
        overdue = is_open and any(m[3] == "overdue" for m in milestones)
        closed_at = None if is_open else last_at + timedelta(hours=rng.uniform(1, 72))
        incident = dict(
            id=i, human_id=f"YQ-B-{i:07d}", workflow_id=f"incident-bench-{i}", title=f"基准测试事件 {i}",
            summary="", source=SOURCES[i % len(SOURCES)], source_url="", category=CATEGORIES[i % len(CATEGORIES)],
            level=level, party_code=party, status="open" if is_open else "closed", drill=drill,
            policy_name="巴中市", reporter="duty", idempotency_key=None, detected_at=detected, opened_at=detected,
            closed_at=closed_at, next_due_at=next_due, overdue=overdue, version=events_per,
            updated_at=closed_at or detected,
        )
        kinds = ["opened", "reminder_sent", "acknowledged", "reminder_sent", "released", "note",
                 "escalated", "update", "escalation_repeated", "closed"]
        events = []
        for seq in range(1, events_per + 1):
            kind = kinds[(seq - 1) % len(kinds)]
            at = detected + timedelta(minutes=7 * seq)
            events.append((seq, kind, "system", at, json.dumps({"milestone": "first_release", "n": seq})))
        yield incident, milestones, events


# --- loading ------------------------------------------------------------------------------------------

INCIDENT_COLUMNS = ("id", "human_id", "workflow_id", "title", "summary", "source", "source_url", "category",
                    "level", "party_code", "status", "drill", "policy_name", "reporter", "idempotency_key",
                    "detected_at", "opened_at", "closed_at", "next_due_at", "overdue", "version", "updated_at")
MILESTONE_COLUMNS = ("incident_id", "key", "label", "due_at", "state", "met_at", "waived_reason")
EVENT_COLUMNS = ("incident_id", "event_key", "seq", "kind", "actor", "at", "payload")


def _sqlite_time(value: datetime | None) -> str | None:
    # The exact text SQLAlchemy's SQLite DateTime writes (naive UTC), so range comparisons stay correct.
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load(url: str, rows, batch: int = 20_000) -> tuple[int, int, int]:
    engine = get_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    counts = [0, 0, 0]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        buf_i, buf_m, buf_e = [], [], []

        def flush() -> None:
            if sqlite:
                for table, cols, buf in (("incident", INCIDENT_COLUMNS, buf_i), ("milestone", MILESTONE_COLUMNS, buf_m),
                                         ("timelineevent", EVENT_COLUMNS, buf_e)):
                    if buf:
                        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                        f"({', '.join('?' * len(cols))})", buf)
            else:
                for table, cols, buf in (("incident", INCIDENT_COLUMNS, buf_i), ("milestone", MILESTONE_COLUMNS, buf_m),
                                         ("timelineevent", EVENT_COLUMNS, buf_e)):
                    if buf:
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in buf:
                                copy.write_row(row)
            raw.commit()
            buf_i.clear(), buf_m.clear(), buf_e.clear()

        conv = _sqlite_time if sqlite else (lambda v: v)
        for incident, milestones, events in rows:
            iid = incident["id"]
            buf_i.append(tuple(conv(v) if isinstance(v, datetime) else (int(v) if sqlite and isinstance(v, bool) else v)
                               for v in (incident[c] for c in INCIDENT_COLUMNS)))
            for key, label, due, state, met in milestones:
                buf_m.append((iid, key, label, conv(due), state, conv(met),
                              "上级统一发布" if state == "waived" else None))
            for seq, kind, actor, at, payload in events:
                buf_e.append((iid, f"incident-bench-{iid}/{seq}", seq, kind, actor, conv(at), payload))
            counts[0] += 1
            counts[1] += len(milestones)
            counts[2] += len(events)
            if len(buf_e) >= batch:
                flush()
        flush()
        if not sqlite:
            cur.execute("SELECT setval(pg_get_serial_sequence('incident', 'id'), (SELECT max(id) FROM incident))")
            raw.commit()
        if sqlite:
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    if not sqlite:
        # VACUUM as well: sets the visibility map, as autovacuum would have long since on a live database
        # (index-only scans really are index-only), and autovacuum does not start during the timed runs.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return counts[0], counts[1], counts[2]


# --- timing ----------------------------------------------------------------------------------------------


def bare_statement(engine, stmt, params: dict | None = None) -> tuple[str, object]:
    """The SQL text and DBAPI parameters SQLAlchemy would send, to run on a raw connection."""
    compiled = stmt.compile(dialect=engine.dialect)
    state = compiled.construct_expanded_state(params)  # IN lists expanded, as when the statement runs
    processors = {**compiled._bind_processors, **state.processors}
    values = {k: (processors[k](v) if k in processors else v) for k, v in state.parameters.items()}
    if compiled.positional:
        return state.statement, tuple(values[k] for k in state.positiontup)
    return state.statement, values


def run_bare(engine, statements) -> float:
    raw = engine.raw_connection()
    try:
        t0 = time.perf_counter()
        cur = raw.cursor()
        for sql, params in statements:
            cur.execute(sql, params)
            cur.fetchall()
        elapsed = time.perf_counter() - t0
        raw.rollback()
        return elapsed
    finally:
        raw.close()


def quantile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return stats.percentile(ordered, p) or 0.0


def measure(call, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def bench_backend(url: str, args, now: datetime) -> list[tuple]:
    t0 = time.perf_counter()
    init_db(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        parties = [r[0] for r in conn.execute(text("SELECT code FROM party WHERE active ORDER BY code"))]
    counts = load(url, generate(args.incidents, args.events_per_incident, now, parties))
    loaded = time.perf_counter() - t0
    print(f"  loaded {counts[0]:,} incidents, {counts[1]:,} milestones, {counts[2]:,} timeline events "
          f"in {loaded:.1f} s", flush=True)

    year = now.astimezone(stats.SHANGHAI).year - 1
    period = stats.Period(date(year, 1, 1), date(year, 12, 31))
    filters = BoardFilters()
    party_names = text("SELECT code, name FROM party")

    def desk_board():
        with session_scope(url) as s:
            return board(s, filters, now=now)

    def desk_assessment():
        with session_scope(url) as s:
            return stats.assessment(s, period, now=now)

    def desk_assessment_cold():
        stats.clear_cache()
        return desk_assessment()

    def desk_csv():
        with session_scope(url) as s:
            return sum(len(chunk) for chunk in stats.to_csv(stats.detail_rows(s, period, now=now)))

    with session_scope(url) as s:
        board_bare = [bare_statement(engine, q, params)
                      for q, params in board_statements(engine.dialect.name, filters, now)]
        assess_bare = [bare_statement(engine, party_names)] + \
            [bare_statement(engine, q) for q in stats.assessment_statements(s, period, None, now)]
        stamp_bare = [bare_statement(engine, party_names)] + \
            [bare_statement(engine, q) for q in stats.stamp_sql(period, None, now)]
        csv_bare = [bare_statement(engine, party_names), bare_statement(engine, stats.detail_sql(s, period, None))]
        shown = desk_board()
        report = desk_assessment()
    print(f"  board: {shown['counts']['open']:,} open ({shown['counts']['overdue']:,} overdue); "
          f"assessment {year}: {report['overall']['incidents']:,} incidents; "
          f"CSV {year}: {desk_csv() / 1e6:.1f} MB", flush=True)

    results = []
    for name, desk_call, bare, runs in (
        ("board", desk_board, board_bare, args.runs),
        ("assessment (1 year)", desk_assessment, stamp_bare, args.runs),
        ("assessment (1 year, cold)", desk_assessment_cold, assess_bare, args.runs),
        ("CSV export (1 year, detail)", desk_csv, csv_bare, args.csv_runs),
    ):
        desk_times = measure(desk_call, runs)
        bare_times = measure(lambda bare=bare: run_bare(engine, bare), runs)
        results.append((name, desk_times, bare_times))
    return results


def print_results(backend: str, results: list[tuple]) -> bool:
    ok = True
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n  load average {load} (other work on the machine slows both columns)")
    print(f"  {'query':<30}{'desk p50':>10}{'desk p95':>10}{'bare p50':>10}{'bare p95':>10}{'ratio':>8}"
          f"{'target':>10}")
    for name, desk_times, bare_times in results:
        dp50, dp95 = quantile(desk_times, 0.5), quantile(desk_times, 0.95)
        bp50, bp95 = quantile(bare_times, 0.5), quantile(bare_times, 0.95)
        target = TARGETS.get(name)
        met = target is None or dp95 <= target
        ok &= met
        verdict = f"{'≤' + _fmt(target):>9} {'ok' if met else 'MISSED'}" if target else f"{'—':>9}"
        print(f"  {name:<30}{dp50 * 1000:>8.1f}ms{dp95 * 1000:>8.1f}ms{bp50 * 1000:>8.1f}ms{bp95 * 1000:>8.1f}ms"
              f"{dp95 / bp95 if bp95 else 0:>7.2f}x{verdict}")
    return ok


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.0f}s"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench board", description=__doc__.split("\n\n")[0])
    sql_bench_arguments(p, runs_help="timed runs of the board and the assessment (default 40)")
    p.add_argument("--csv-runs", type=int, default=5)
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.runs, args.csv_runs = 2_000, 5, 2
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"bench board: {args.incidents:,} incidents × {args.events_per_incident} timeline events, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    return on_each_database("board", args, lambda backend, url: print_results(backend, bench_backend(url, args, now)))


if __name__ == "__main__":
    sys.exit(main())
