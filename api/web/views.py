"""What the incident pages show, built from the read models: milestones with their countdowns, the
timeline, the actions a role may take. Pure presentation: no writes, no Temporal."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.presenters import event_payload_for, sees_channels
from api.schemas import UNGRADED_CATEGORIES
from api.web import labels
from desk import actions
from desk import clocks as clk
from desk.errors import DeskError
from desk.models import (
    Incident,
    IncidentSupport,
    IncidentTask,
    Milestone,
    NotificationAttempt,
    Party,
    TimelineEvent,
    User,
)
from desk.policy import FOLLOW_UP, LEVELS, Policy
from desk.release_content import coverage
from desk.service import SUPPORTING, Desk
from desk.timefmt import SHANGHAI, duration_parts
from desk.users import RESPONDER
from desk.vocab import (  # noqa: F401 (OPENERS: the pages name the role groups from here)
    EVERYONE,
    OPENERS,
    RESPONDERS,
    SUPERVISORS,
    SYSTEM,
    DeliveryStatus,
    EventKind,
    IncidentStatus,
    NotificationKind,
)
from desk.workdays import UnknownYear

Translate = Callable[..., str]


# --- words -----------------------------------------------------------------------------------------


UNIT_WORDS = {"d": "%(n)sd", "h": "%(n)sh", "min": "%(n)smin", "s": "%(n)ss"}


def span(seconds: float, _: Translate, lang: str) -> str:
    """A duration in the viewer's language, by the one rule (desk.timefmt.duration_parts): 48小时 / 5天3小时."""
    return ("" if lang == "zh" else " ").join(_(UNIT_WORDS[unit], n=n) for n, unit in duration_parts(seconds))


def clock_words(_: Translate, lang: str) -> dict[str, str]:
    """The words desk.js needs to write a countdown (raw templates with %(n)s / %(t)s)."""
    return {"days": _("%(n)sd"), "hours": _("%(n)sh"), "minutes": _("%(n)smin"), "seconds": _("%(n)ss"),
            "sep": "" if lang == "zh" else " ", "left": _("%(t)s left"), "overdue": _("overdue by %(t)s")}


def message(text: str, _: Translate) -> str:
    """A message from the schemas or the workflow, in the viewer's language when the catalog knows it."""
    key = str(text).strip().rstrip("。.")
    return _(labels.KNOWN_MESSAGES[key]) if key in labels.KNOWN_MESSAGES else str(text)


_OWN_CLOCK = re.compile(r"^(support|task)-(\d+)$")


def clock_name(key: str, _: Translate, fallback: str = "") -> str:
    """A clock's name in the viewer's language: a milestone of the catalog, a supporting party's acknowledgement
    or a task by its number; else the policy's own label."""
    if key in labels.MILESTONES:
        return _(labels.MILESTONES[key])
    own = _OWN_CLOCK.match(key)
    if own:
        if own[1] == "support":
            return _("Acknowledgement by supporting party %(n)s", n=own[2])
        return _("Task %(n)s", n=own[2])
    return fallback or key


def desk_error_text(exc: DeskError, _: Translate) -> str:
    """A refusal of the incident service in the viewer's language, from its code and params."""
    template = labels.ERROR_MESSAGES.get(exc.code)
    return _(template, **_said(exc.params, _)) if template else message(exc.message, _)


def _said(params: dict[str, Any], _: Translate) -> dict[str, Any]:
    """A refusal's params as its sentence names them: milestones and levels by their names in the catalog
    (a milestone the catalog does not know by the policy's own label)."""
    said = dict(params)
    if isinstance(params.get("milestone"), str):
        said["milestone"] = clock_name(params["milestone"], _, str(params.get("label") or ""))
    if isinstance(params.get("milestones"), dict):
        said["milestones"] = _(labels.LIST_SEPARATOR).join(
            clock_name(key, _, str(label)) for key, label in params["milestones"].items())
    if isinstance(params.get("level"), str) and params["level"] in labels.LEVELS:
        said["level"] = _(labels.LEVELS[params["level"]])
    return said


def desk_error_messages(exc: DeskError, _: Translate) -> dict[str, str]:
    """The form's errors for a refusal: on its field, or on the form as a whole."""
    return {exc.field or "form": desk_error_text(exc, _)}


def field_errors(exc: ValidationError, _: Translate) -> dict[str, str]:
    """One message per form field. A model-level error (the level rule) belongs to the level field."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        name = loc[0] if loc else "level"
        if name in out:
            continue
        kind = str(error.get("type", ""))
        ctx = error.get("ctx") or {}
        if kind in ("missing", "string_too_short"):
            out[name] = _("This field is required.")
        elif kind == "string_too_long":
            out[name] = _("Too long: at most %(n)s characters.", n=ctx.get("max_length", ""))
        elif kind in ("enum", "literal_error"):
            out[name] = _("Choose one of the listed options.")
        elif kind.startswith("datetime"):
            out[name] = _("Enter a date and time, for example 2026-11-27 09:30.")
        else:
            out[name] = message(str(error.get("msg", "")).removeprefix("Value error, "), _)
    return out


# --- the policy's deadlines, for the new-incident form ---------------------------------------------------


def policy_offsets(policy: Policy, _: Translate, start: datetime) -> dict[str, Any]:
    """Per level: each milestone and how long after detection it falls due (desk.clocks.due_at).

    A duration is an offset (``seconds``) the form adds to whatever detection time is typed. Working days
    are not (holidays, make-up working days): those rows carry ``working_days`` and the ``due`` time (epoch
    ms) counted on the server from ``start``, the detection time the form was rendered with; None when a
    year the count passes is not known (opening will say so)."""
    levels = {}
    for level in LEVELS:
        rows = []
        for rule in policy.milestones:
            if level not in rule.levels:
                continue
            row: dict[str, Any] = {"key": rule.key, "label": _(labels.MILESTONES.get(rule.key, rule.key))}
            working_days = rule.due_working_days.get(level)
            if working_days:
                try:
                    due = clk.due_at(policy, rule, level, start)
                except UnknownYear:
                    due = start + timedelta(days=working_days * 7 / 5)  # only to sort it among the rest
                    row["due"] = None
                else:
                    row["due"] = int(due.timestamp() * 1000)
                row["working_days"] = working_days
            else:
                row["seconds"] = rule.due_seconds[level]
                due = start + timedelta(seconds=rule.due_seconds[level])
            rows.append((due, row))
        # in the order they fall due (the policy file's order is not the clock's)
        levels[level] = [row for _due, row in sorted(rows, key=lambda pair: pair[0])]
    return {"name": policy.name, "levels": levels, "follow_up": policy.follow_up_every_seconds}


def deadline_data(desk: Desk, _: Translate, start: datetime) -> dict[str, Any]:
    """The new-incident form's preview data; ``start``: the detection time the form is rendered with."""
    return {
        "normal": policy_offsets(desk.policy, _, start),
        "drill": policy_offsets(desk.drill_policy, _, start),
        "ungraded": [c.value for c in UNGRADED_CATEGORIES],
        "start": start.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        "words": {
            "policy": _("Under the policy “%(name)s” this incident gets these deadlines (Beijing time):"),
            "choose": _("Choose a level (or an ungraded category) to see the deadlines."),
            "row": _("%(label)s: by %(due)s (%(span)s after detection)"),
            "working_row": _("%(label)s: by %(due)s (%(n)s working days after detection, official holidays and "
                             "make-up working days counted)"),
            "working_row_open": _("%(label)s: %(n)s working days after detection (the time is counted with the "
                                  "official holidays and make-up working days when the incident is opened)"),
            "follow_up": _("Follow-up releases: every %(span)s after the last release, while the incident is open"),
        },
    }


# --- the incident page -------------------------------------------------------------------------------


def policy_of(desk: Desk, incident: Incident) -> Policy:
    preferred = desk.drill_policy if incident.drill else desk.policy
    for policy in (preferred, desk.policy, desk.drill_policy):
        if policy.name == incident.policy_name:
            return policy
    return preferred


def at_risk_at(policy: Policy, incident: Incident, m: Milestone) -> datetime | None:
    """When the milestone's countdown turns amber: the one status rule (desk.clocks.at_risk_from), as the board."""
    if m.state not in (clk.PENDING, clk.OVERDUE):
        return None
    start = incident.detected_at
    if m.key == FOLLOW_UP:
        start = m.due_at - timedelta(seconds=policy.follow_up_every_seconds or 0)
    return clk.at_risk_from(start, m.due_at)


@dataclass
class MilestoneView:
    key: str
    label: str
    due_at: datetime
    state: str
    state_label: str
    open: bool
    amber_at: datetime | None = None
    tone: str = "green"
    countdown: str = ""
    met_at: datetime | None = None
    met_text: str = ""
    waived_reason: str | None = None


def milestone_views(desk: Desk, incident: Incident, milestones: list[Milestone], now: datetime,
                    _: Translate, lang: str) -> list[MilestoneView]:
    policy = policy_of(desk, incident)
    views = []
    for m in milestones:
        view = MilestoneView(key=m.key, label=_(labels.MILESTONES.get(m.key, m.label)), due_at=m.due_at, state=m.state,
                             state_label=_(labels.MILESTONE_STATES.get(m.state, m.state)),
                             open=m.state in (clk.PENDING, clk.OVERDUE), met_at=m.met_at,
                             waived_reason=m.waived_reason)
        if view.open and incident.status == IncidentStatus.open:
            view.amber_at = at_risk_at(policy, incident, m)
            left = (m.due_at - now).total_seconds()
            view.tone = "red" if left <= 0 else ("amber" if view.amber_at and now >= view.amber_at else "green")
            words = _("%(t)s left") if left > 0 else _("overdue by %(t)s")
            view.countdown = words % {"t": span(left, _, lang)}
        elif m.met_at is not None:
            early = (m.due_at - m.met_at).total_seconds()
            view.met_text = (_("met %(t)s early", t=span(early, _, lang)) if early >= 0
                             else _("met %(t)s late", t=span(early, _, lang)))
        views.append(view)
    return views


@dataclass
class Entry:
    at: datetime
    order: tuple
    title: str
    actor: str = ""
    css: str = ""
    details: list[tuple[str, str, str]] = field(default_factory=list)  # (label, text, href)
    gap: str = ""  # the supervisor's view: time since the entry before, in words


def tag_names(tags: str | list[str], names: dict[str, str], _: Translate) -> str:
    """Notification tags as people know them: a party's name, its leadership, the city supervisor."""
    out = []
    for tag in (tags.split(",") if isinstance(tags, str) else tags):
        tag = tag.strip()
        if tag in names:
            out.append(names[tag])
        elif tag.endswith("-leaders") and tag.removesuffix("-leaders") in names:
            out.append(_("%(party)s leadership", party=names[tag.removesuffix("-leaders")]))
        elif tag == "supervisor":
            out.append(_("City supervisor"))
        elif tag:
            out.append(tag)
    return _(", ").join(out)


def file_size(n: int) -> str:
    """Bytes as a person reads them (units are the same in Chinese and English)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} B"


def _http(url: str) -> str:
    return url if url.lower().startswith(("http://", "https://")) else ""


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def event_details(event: TimelineEvent, _: Translate, local: Callable[[datetime | None], str],
                  payload: dict | None = None, parties: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    p = (event.payload or {}) if payload is None else payload
    rows: list[tuple[str, str, str]] = []

    def add(label: str, text: Any, href: str = "") -> None:
        if text not in (None, "", [], {}):
            rows.append((label, str(text), href))

    def milestone(key: Any) -> str:
        return clock_name(str(key), _) if key else ""

    kind = event.kind
    if kind in (EventKind.opened, EventKind.level_changed) and isinstance(p.get("deadlines"), dict):
        if kind == EventKind.level_changed:
            before, after = str(p.get("from")), str(p.get("to"))
            add(_("Level"), f"{_(labels.LEVELS.get(before, before))} → {_(labels.LEVELS.get(after, after))}")
        for key, due in p["deadlines"].items():
            add(milestone(key), _("due %(when)s", when=local(_parse_time(due))))
    if kind in (EventKind.released, EventKind.press_conference, EventKind.update):
        add(_("Released at"), local(_parse_time(p.get("released_at"))))
        add(_("Channel"), p.get("channel"))
        add(_("Link"), p.get("url"), _http(str(p.get("url") or "")))
        add(_("Summary"), p.get("summary"))
        for part, label in labels.RELEASE_PARTS.items():
            add(_(label), p.get(part))
        if any(p.get(part) for part in labels.RELEASE_PARTS):  # recorded with the three parts: say if one is missing
            missing = coverage(p).missing
            add(_("Parts missing"), _(", ").join(_(labels.RELEASE_PARTS[m]) for m in missing) if missing else "")
        met = p.get("met") or []
        add(_("Milestones met"), "、".join(milestone(k) for k in met) if met else "")
    if kind == EventKind.acknowledged:
        add(_("Supporting party"), (p.get("party") or {}).get("name", ""))
        add(_("Note"), p.get("note"))
    if kind == EventKind.support_added:
        add(_("Supporting party"), (p.get("party") or {}).get("name", ""))
        if p.get("due_at"):
            add(milestone(p.get("clock")), _("due %(when)s", when=local(_parse_time(p.get("due_at")))))
    if kind in (EventKind.task_assigned, EventKind.task_done):
        add(_("Task"), p.get("task"))
        add(_("Party"), (p.get("party") or {}).get("name", ""))
    if kind == EventKind.task_assigned:
        add(_("What to do"), p.get("text"))
        add(_("Due"), local(_parse_time(p.get("due_at"))))
        if p.get("needs_attachment"):
            add(_("Result"), _("a file is required"))
    if kind == EventKind.task_done:
        add(_("Result"), p.get("note"))
        add(_("Attachment"), p.get("attachment"))
    if kind == EventKind.note:
        add(_("Note"), p.get("text"))
    if kind == EventKind.reassigned:
        add(_("Party"), f"{(p.get('from') or {}).get('name', '')} → {(p.get('to') or {}).get('name', '')}")
    if kind == EventKind.waived:
        add(_("Milestone"), milestone(p.get("milestone")))
    if kind in (EventKind.reminder_sent, EventKind.escalated, EventKind.escalation_repeated,
                EventKind.notification_failed):
        add(_("Milestone"), milestone(p.get("milestone")))
        add(_("Sent to"), tag_names(p.get("tags") or [], parties or {}, _))
        if "matched" in p:
            add(_("Channels"), _("%(delivered)s of %(matched)s delivered", delivered=p.get("delivered", 0),
                                  matched=p.get("matched", 0)))
        add(_("Error"), p.get("error"))
    if kind in (EventKind.attachment_added, EventKind.attachment_withdrawn):
        add(_("File"), p.get("name"))
    if kind == EventKind.attachment_added:
        add(_("Type"), p.get("content_type"))
        add(_("Size"), file_size(int(p.get("size") or 0)))
        add("SHA-256", p.get("sha256"))
    if kind == EventKind.urged:
        add(_("Urge"), p.get("text"))
    if kind in (EventKind.assignment_notified, EventKind.urge_sent):
        add(_("Party"), (p.get("party") or {}).get("name", ""))
        if "matched" in p:
            add(_("Channels"), _("%(delivered)s of %(matched)s delivered", delivered=p.get("delivered", 0),
                                  matched=p.get("matched", 0)))
        add(_("Error"), p.get("error"))
    if kind == EventKind.linked:
        add(_("Related incident"), f"{p.get('other', '')} {p.get('title', '')}", f"/incidents/{p.get('other', '')}")
    if kind == EventKind.merged:
        add(_("Merged into"), f"{p.get('into', '')} {p.get('title', '')}", f"/incidents/{p.get('into', '')}")
        add(_("Deadlines stopped"), "、".join(milestone(k) for k in p.get("stopped") or []))
        add(_("Missed before the merge"), "、".join(milestone(k) for k in p.get("missed") or []))
    if kind == EventKind.merged_from:
        add(_("Merged from"), f"{p.get('from', '')} {p.get('title', '')}", f"/incidents/{p.get('from', '')}")
    if kind == EventKind.channel_failure_escalated:
        add(_("Detail"), p.get("error") or p.get("detail") or p.get("channel"))
    if kind in (EventKind.delivery_recovered, EventKind.notification_cancelled):
        add(_("Milestone"), milestone(p.get("milestone")))
        add(_("Sent to"), tag_names(p.get("tags") or [], parties or {}, _))
    if kind == EventKind.delivery_recovered:
        add(_("Channels"), _("%(count)s channel(s) took it after %(tries)s tries",
                             count=len(p.get("delivered_now") or []), tries=p.get("tries", "")))
    if kind == EventKind.notification_cancelled:
        why = p.get("reason") or ""  # a reason with no label is shown as its code (_("") is the catalog's header)
        add(_("Channels"), _("%(count)s channel(s) never took it; no longer due: %(why)s",
                             count=p.get("channels", 0), why=_(labels.OWED_ENDED[why]) if why in labels.OWED_ENDED
                             else why))
    add(_("Reason"), p.get("reason"))
    return rows


def timeline(session: Session, events: list[TimelineEvent], notes: list[NotificationAttempt], _: Translate,
             local: Callable[[datetime | None], str], viewer: User) -> list[Entry]:
    """Every event and every notification attempt, newest first; channel details only for those who
    look after the channels (api.presenters.sees_channels)."""
    channels = sees_channels(viewer)
    hidden = _("Some channels failed; their details are shown to duty officers and supervisors.")
    names = {u.username: u.display_name or u.username for u in session.exec(
        select(User).where(col(User.username).in_({e.actor for e in events}))).all()}
    parties = {p.code: p.name for p in session.exec(select(Party)).all()}
    entries = []
    for e in events:
        actor = _("System") if e.actor == SYSTEM else names.get(e.actor, e.actor)
        entries.append(Entry(at=e.at, order=(1, e.seq), title=_(labels.EVENTS.get(e.kind, e.kind)), actor=actor,
                             css=f"event {e.kind}",
                             details=event_details(e, _, local, event_payload_for(viewer, e, hidden), parties)))
    for n in notes:
        status = _(labels.DELIVERY.get(n.status, n.status))
        details = [(_("Delivery"), status, ""), (_("Sent to"), tag_names(n.tags, parties, _), ""),
                   (_("Channel"), (n.service or n.channel) if channels else n.service, "")]
        if n.attempt > 1:
            details.append((_("Attempt"), str(n.attempt), ""))
        if n.error and channels:
            details.append((_("Error"), n.error, ""))
        entries.append(Entry(at=n.at, order=(0, n.id or 0),
                             title=_("Notification: %(kind)s", kind=_(labels.NOTIFICATION_KINDS.get(n.kind, n.kind))),
                             css="notification" + (" failed" if n.status == DeliveryStatus.failed else ""),
                             details=details))
    entries.sort(key=lambda x: (x.at, x.order), reverse=True)
    return entries


def allowed_actions(user: User, incident: Incident, milestones: list[Milestone], part: str | None = None,
                    shared: SharedView | None = None) -> list[str]:
    """The actions this user may take on this incident now, in the order the page shows them (desk.actions).
    A supporting party's responder sees its own acknowledgement as "acknowledge"; a responder, its own tasks."""
    states = {m.key: m.state for m in milestones}
    if shared is not None:
        states.update({c.key: c.state for c in shared.clocks if c.key.startswith("task-") and c.mine})
        if part == SUPPORTING:
            own = next((c for c in shared.clocks if c.key.startswith("support-") and c.mine), None)
            states.pop("acknowledge", None)
            if own is not None:
                states["acknowledge"] = own.state
    return actions.allowed_actions(user, incident, states, part)


@dataclass
class SharedClock:
    """A supporting party's acknowledgement or a task, as the incident page shows it."""

    key: str  # support-<n> | task-<n>
    name: str  # in the viewer's language
    party: str
    state: str
    state_label: str
    tone: str  # as a milestone's: red (overdue), amber (at risk), "" otherwise
    due_at: datetime | None
    met_at: datetime | None
    text: str = ""  # a task's
    result: str = ""  # a task's note
    attachment: str = ""
    needs_attachment: bool = False
    mine: bool = False  # the viewer's party's (or any, for a supervisor)
    n: int = 0

    @property
    def open(self) -> bool:
        return self.state in (clk.PENDING, clk.OVERDUE)


@dataclass
class SharedView:
    supporters: list[SharedClock]
    tasks: list[SharedClock]

    @property
    def clocks(self) -> list[SharedClock]:
        return [*self.supporters, *self.tasks]


def shared_views(user: User, part: str | None, supporters: list[tuple[IncidentSupport, str]],
                 tasks: list[tuple[IncidentTask, str]], now: datetime, _: Translate, lang: str) -> SharedView:
    """The incident's supporting parties (each with its acknowledgement) and tasks, for the page."""
    everyone = user.role != RESPONDER

    def tone(state: str, start: datetime, due: datetime | None) -> str:
        if due is None or state not in (clk.PENDING, clk.OVERDUE):
            return ""
        if state == clk.OVERDUE or due <= now:
            return "red"
        return "amber" if clk.at_risk_from(start, due) <= now else ""

    def label(state: str, due: datetime | None) -> str:
        if state == clk.PENDING and due is not None and due <= now:
            state = clk.OVERDUE
        return _(labels.MILESTONE_STATES.get(state, state)) if state else _("No acknowledgement deadline")

    out_s = [SharedClock(key=f"support-{row.n}", name=name, party=row.party_code, state=row.ack_state or "",
                         state_label=label(row.ack_state or "", row.ack_due_at),
                         tone=tone(row.ack_state or "", row.added_at, row.ack_due_at), due_at=row.ack_due_at,
                         met_at=row.ack_met_at, mine=everyone or row.party_code == user.party_code, n=row.n)
             for row, name in supporters]
    out_t = [SharedClock(key=f"task-{row.n}", name=_("Task %(n)s", n=row.n), party=name, state=row.state,
                         state_label=label(row.state, row.due_at), tone=tone(row.state, row.assigned_at, row.due_at),
                         due_at=row.due_at, met_at=row.met_at, text=row.text, result=row.note,
                         attachment=row.attachment_sha256, needs_attachment=row.needs_attachment,
                         mine=everyone or row.party_code == user.party_code, n=row.n)
             for row, name in tasks]
    return SharedView(supporters=out_s, tasks=out_t)
