"""The assessment: every figure of the page for a period, computed from SQL, answered from memory when
nothing it depends on has changed (desk/stats/cache.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from desk.models import Party
from desk.stats import cache
from desk.stats.definitions import LINES, definitions, milestone_label
from desk.stats.figures import Figures, release_distribution
from desk.stats.periods import Period
from desk.stats.queries import assessment_statements, shared_outcomes_sql
from desk.vocab import MilestoneKey


def assessment(session: Session, period: Period, *, party: str | None = None, now: datetime | None = None,
               language: str = "zh") -> dict:
    """Every figure of the assessment page for a period (optionally one party), as plain data.

    The result may be shared with earlier callers: read it, do not change it."""
    now = now or datetime.now(UTC)
    names: dict[str, str] = dict(session.execute(select(col(Party.code), col(Party.name))).all())
    key = (str(session.get_bind().engine.url), period, party, language)
    made_under = cache.stamp(session, period, party, now, names)
    hit = cache.recall(key, made_under)
    if hit is not None:
        return {**hit, "generated_at": now.isoformat()}
    report = compute_assessment(session, period, party=party, now=now, language=language, names=names)
    cache.remember(key, made_under, report)
    return report


def compute_assessment(session: Session, period: Period, *, party: str | None = None, now: datetime,
                       language: str = "zh", names: dict[str, str] | None = None) -> dict:
    """The assessment computed from SQL, without the memory in front of it."""
    outcome_q, durations_q, incidents_q, content_q = assessment_statements(session, period, party, now)
    if names is None:
        names = dict(session.execute(select(col(Party.code), col(Party.name))).all())

    cells: dict[tuple[str, str], Figures] = defaultdict(Figures)  # (party, milestone)
    by_month: dict[str, Figures] = defaultdict(Figures)
    press = Figures()
    shared_rows = [row for q in shared_outcomes_sql(session, period, party, now) for row in session.execute(q)]
    for row in [*session.execute(outcome_q), *shared_rows]:
        cells[(row.party, row.mkey)].add(row.bucket, row.n)
        by_month[row.month].add(row.bucket, row.n)
        if row.mkey == MilestoneKey.press_conference and row.level_one:
            press.add(row.bucket, row.n)

    release_hours: list[float] = []
    for party_code, key, seconds in session.execute(durations_q):
        cells[(party_code, key)].durations.append(float(seconds))
        if key == "first_release":
            release_hours.append(float(seconds) / 3600)

    incidents_by_party: dict[str, int] = defaultdict(int)
    incidents_by_month: dict[str, int] = defaultdict(int)
    for row in session.execute(incidents_q):
        incidents_by_party[row.party] += row.n
        incidents_by_month[row.month] += row.n

    content: dict[str, tuple[int, int]] = {row.party: (int(row.n), int(row.complete))
                                           for row in session.execute(content_q)}

    parties = sorted(set(incidents_by_party) | {p for p, _ in cells}, key=lambda c: (names.get(c, c), c))
    by_milestone: dict[str, Figures] = {key: Figures() for key in LINES}
    party_rows = []
    overall = Figures()
    for code in parties:
        total = Figures()
        milestones: dict[str, dict] = {}
        for key in LINES:
            cell = cells.get((code, key))
            if cell is None:
                continue
            total.absorb(cell)
            by_milestone[key].absorb(cell)
            by_milestone[key].durations.extend(cell.durations)
            milestones[key] = cell.as_dict()
        overall.absorb(total)
        figures = total.as_dict(with_durations=False)
        figures["incidents"] = incidents_by_party.get(code, 0)
        party_rows.append({
            "party": code, "name": names.get(code, code), "figures": figures, "milestones": milestones,
            "acknowledge": _timing(milestones.get("acknowledge")),
            "first_release": _timing(milestones.get("first_release")),
            "releases": _completeness(*content.get(code, (0, 0))),
        })
    overall_dict = overall.as_dict(with_durations=False)
    overall_dict["incidents"] = sum(incidents_by_party.values())
    monthly = []
    for month in period.months():
        figures = by_month.get(month, Figures()).as_dict(with_durations=False)
        figures["incidents"] = incidents_by_month.get(month, 0)
        monthly.append({"month": month, **figures})
    overall_dict["releases"] = _completeness(sum(n for n, _c in content.values()),
                                             sum(c for _n, c in content.values()))
    press_dict = press.as_dict(with_durations=False)
    press_dict["compliance_rate"] = press_dict["on_time_rate"]
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(), "timezone": "Asia/Shanghai"},
        "party": party,
        "generated_at": now.isoformat(),
        "overall": overall_dict,
        "parties": party_rows,
        "milestones": [{"key": k, "label": milestone_label(k, language), **by_milestone[k].as_dict()}
                       for k in LINES],
        "press_conference": press_dict,
        "monthly": monthly,
        "release_distribution": release_distribution(release_hours),
        "definitions": definitions(language),
    }


def _timing(cell: dict | None) -> dict:
    if not cell:
        return {"median_seconds": None, "p90_seconds": None, "timed": 0}
    return {"median_seconds": cell["median_seconds"], "p90_seconds": cell["p90_seconds"], "timed": cell["timed"]}


def _completeness(releases: int, complete: int) -> dict:
    """Releases recorded and the share that said 事实, 措施 and 结果/进展 (None with no release)."""
    return {"recorded": releases, "complete": complete, "complete_rate": complete / releases if releases else None}


def rank_parties(parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parties by on-time rate, best first (a party with nothing due yet last); equal rates share a rank.
    The assessment page and the 通报 rank with this."""
    def rate(p: dict[str, Any]) -> float | None:
        return p["figures"]["on_time_rate"]

    ordered = sorted(parties, key=lambda p: (rate(p) is None, -(rate(p) or 0.0), -p["figures"]["incidents"], p["name"]))
    out: list[dict[str, Any]] = []
    for i, p in enumerate(ordered):
        same = out and rate(out[-1]) == rate(p) and rate(p) is not None
        out.append({**p, "rank": out[-1]["rank"] if same else (i + 1 if rate(p) is not None else None)})
    return out
