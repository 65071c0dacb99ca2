"""Supervisor pages: the live board, an incident's whole history as a timeline, the assessment.

All three read SQL only (desk.board, desk.stats, the timeline tables), never Temporal. The board's
first paint is rendered here; board.js then polls /api/board with the same filters every few seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from jinja2.ext import _make_new_gettext
from sqlmodel import Session, col, select

from api.deps import get_session
from api.web import i18n, labels, views
from api.web.security import PageError, page_role
from api.web.templating import language, local, render
from api.web.views import desk_error_text, span
from desk import stats
from desk.board import STATUSES, BoardFilters, board
from desk.errors import NotFound
from desk.models import Milestone, Party, User
from desk.service import get_incident, timeline_rows
from desk.vocab import (
    BOARD_VIEWERS,
    SUPERVISORS,
    MilestoneState,
    Role,
)

router = APIRouter(include_in_schema=False)
ASSESSORS = SUPERVISORS
POLL_SECONDS = 3


def translate(lang: str):
    """gettext from the shared catalog (api/locales), and ``_`` that also fills in %(name)s values."""
    gettext = i18n.translations(lang).gettext

    def _(message: str, **values: Any) -> str:
        text = gettext(message)
        return text % values if values else text

    return gettext, _


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200):
    gettext, _ = translate(language(request))
    context = {**context, "_": _make_new_gettext(gettext), "gettext": _make_new_gettext(gettext)}
    return render(request, name, context, status_code=status_code)


def _parties(session: Session) -> list[Party]:
    return list(session.exec(select(Party).where(Party.active == True).order_by(Party.kind, Party.code)).all())  # noqa: E712


# --- the board ----------------------------------------------------------------------------------------


@router.get("/board")
def board_page(request: Request, party: str = "", level: str = "", category: str = "", status: str = "",
               drills: bool = False, kiosk: bool = False, user: User = Depends(page_role(*BOARD_VIEWERS)),
               session: Session = Depends(get_session)):
    _gettext, _ = translate(language(request))
    filters = BoardFilters(
        party=party if session.get(Party, party) else None,
        level=level if level in labels.LEVELS else None,
        category=category if category in labels.CATEGORIES else None,
        status=status if status in STATUSES else None, drills=drills,
    )
    data = board(session, filters, language=language(request))
    lang = language(request)
    return page(request, "supervisor/board.html", {
        "data": data, "filters": filters, "parties": _parties(session), "poll_seconds": POLL_SECONDS,
        "levels": [(c, _(label)) for c, label in labels.LEVELS.items()],
        "categories": [(c, _(label)) for c, label in labels.CATEGORIES.items()],
        "statuses": [("overdue", _("Overdue")), ("at_risk", _("At risk")), ("on_track", _("On track"))],
        "read_only": user.role == Role.duty_officer,
        "words": board_words(_, lang),
        # The wall screen: no navigation, full width, large countdowns, pages through the rows by itself.
        "kiosk": kiosk, "body_class": "kiosk" if kiosk else "",
    })


def board_words(_, lang: str) -> dict[str, str]:
    """What board.js writes into rows (raw templates: %(n)s, %(t)s)."""
    return {
        "drill": _("[Drill]"), "reminded": _("reminded %(n)s×"), "escalated": _("escalated %(n)s×"),
        "failed": _("%(n)s failed"), "unreached": _("%(n)s reached no one"), "none": _("none yet"),
        "tasks": _("%(n)s open tasks"), "tasks_overdue": _("%(n)s overdue"),
        "empty": _("No open incidents match these filters."),
        "updated": _("Updated %(t)s, refreshes every %(n)s s"),
        "offline": _("Not refreshed: the server cannot be reached. Retrying."),
        "truncated": _("Showing only the %(n)s that most need attention, of %(total)s; "
                       "narrow the list down with the filters."),
        "levels": {c: _(label) for c, label in labels.LEVELS.items()},
        "milestones": {c: _(label) for c, label in labels.MILESTONES.items()},
        "missed": _("%(n)s deadlines missed"),
        "page": _("Page %(n)s of %(total)s"),
        # On a phone each row is a card: the cells say what they are.
        "columns": {"level": _("Level"), "party": _("Party"), "milestone": _("Next deadline"),
                    "left": _("Time left"), "notices": _("Reminders and escalations")},
        "lang": lang,
    }


# --- one incident's timeline ----------------------------------------------------------------------------


@router.get("/board/incidents/{human_id}")
def timeline_page(request: Request, human_id: str, user: User = Depends(page_role(*BOARD_VIEWERS)),
                  session: Session = Depends(get_session)):
    lang = language(request)
    _gettext, _ = translate(lang)
    try:
        incident = get_incident(session=session, human_id=human_id)
    except NotFound as exc:
        raise PageError(404, desk_error_text(exc, _)) from None
    events, notes = timeline_rows(session=session, incident=incident)
    milestones = list(session.exec(select(Milestone).where(Milestone.incident_id == incident.id)
                                   .order_by(col(Milestone.due_at))).all())
    now = datetime.now(UTC)
    # The incident page's timeline (one renderer: views.timeline), oldest first, with the detection, every
    # deadline as a marker, and the time between entries.
    entries = views.timeline(session, events, notes, _, local, user)
    entries.append(views.Entry(incident.detected_at, (-1, 0), _("Detected"), css="detected start",
                               details=[(_("Incident"), incident.title, "")]))
    for i, m in enumerate(milestones):
        label = _(labels.MILESTONES.get(m.key, m.key))
        upcoming = m.due_at > now and m.state in (MilestoneState.pending, MilestoneState.overdue)
        state = _(labels.MILESTONE_STATES.get(m.state, m.state))
        entries.append(views.Entry(m.due_at, (3, i), _("Deadline: %(label)s", label=label),
                                   css=f"deadline state-{m.state}",
                                   details=[(_("State"), state + (" · " + _("not yet due") if upcoming else ""), "")]))
    entries.sort(key=lambda x: (x.at, x.order))
    previous = None
    for entry in entries:
        if previous is not None and (entry.at - previous).total_seconds() >= 60:
            entry.gap = _("%(t)s later", t=span((entry.at - previous).total_seconds(), _, lang))
        previous = entry.at
    intervals = []
    for m in milestones:
        label = _(labels.MILESTONES.get(m.key, m.key))
        took = span((m.met_at - incident.detected_at).total_seconds(), _, lang) if m.met_at else _("not yet")
        intervals.append(_("Detection to %(label)s: %(t)s", label=label, t=took))
    party = session.get(Party, incident.party_code)
    return page(request, "supervisor/timeline.html", {
        "incident": incident, "party": party.name if party else incident.party_code, "entries": entries,
        "intervals": intervals, "level": _(labels.LEVELS.get(incident.level, incident.level)),
    })


# --- the assessment -------------------------------------------------------------------------------------


@router.get("/assessment")
def assessment_page(request: Request, user: User = Depends(page_role(*ASSESSORS)),
                    session: Session = Depends(get_session)):
    lang = language(request)
    _gettext, _ = translate(lang)
    q = request.query_params
    default = stats.Period.year_to_date()
    error = ""
    try:
        start = date.fromisoformat(q["from"]) if q.get("from") else default.start
        end = date.fromisoformat(q["to"]) if q.get("to") else default.end
        period = stats.Period(start, end)
    except ValueError:
        error = _("Enter dates as YYYY-MM-DD; the end may not be before the start.")
        period = default
    party = q.get("party") or None
    if party and session.get(Party, party) is None:
        party = None
    report = stats.assessment(session, period, party=party, language=lang)
    definitions = {d["key"]: d["text"] for d in report["definitions"]}
    query = f"from={period.start}&to={period.end}" + (f"&party={party}" if party else "")
    ranked = stats.rank_parties(report["parties"])
    bins = report["release_distribution"]
    release = [{"label": _release_bin(b["upper_hours"], lower, _), "count": b["count"]}
               for b, lower in zip(bins, [None] + [b["upper_hours"] for b in bins][:-1], strict=True)]
    chart_data = {
        "parties": [{"name": p["name"], "on_time": p["figures"]["on_time_rate"],
                     "response": p["figures"]["response_rate"]} for p in ranked],
        "milestones": [{"name": m["label"], **{b: m[b] for b in stats.BUCKETS}} for m in report["milestones"]],
        "monthly": report["monthly"],
        "release": release,
        "words": {"on_time": _("On-time rate"), "response": _("Response rate"),
                  "incidents": _("Number of incidents"),
                  **{str(b): _(w) for b, w in ((MilestoneState.met, "Met on time"), (MilestoneState.met_late, "Met late"),
                                          (MilestoneState.overdue, "Overdue"), (MilestoneState.waived, "Waived"),
                                          (MilestoneState.pending, "Not yet due"))}},
    }
    return page(request, "supervisor/assessment.html", {
        "report": report, "period": period, "party": party, "parties": _parties(session), "error": error,
        "definitions": definitions, "query": query, "chart_data": _script_json(chart_data),
        "milestone_labels": {**{k: _(labels.MILESTONES.get(k, k)) for k in stats.ASSESSED}, stats.TASK: _("Tasks done")},
        "pct": _pct, "hours": lambda seconds: "—" if seconds is None else span(seconds, _, lang),
        "ranked": ranked, "release": release, "bulletin_period": _last_month(),
    })


def _last_month() -> str:
    """The 通报 form's default: the month before this one (Beijing time)."""
    today = datetime.now(UTC).astimezone(stats.SHANGHAI).date()
    return f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"


def _release_bin(upper: int | None, lower: int | None, _) -> str:  # noqa: ANN001 (the page's gettext)
    """A bin of hours from detection to the first release, in the page's words: ≤5 小时 / 5–24 小时 / >48 小时."""
    if lower is None:
        return _("up to %(h)s h", h=upper)
    if upper is None:
        return _("over %(h)s h", h=lower)
    return _("%(a)s–%(b)s h", a=lower, b=upper)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"




def _script_json(data: dict) -> str:
    """JSON safe inside <script>: a party name containing "</script>" cannot end the element."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
