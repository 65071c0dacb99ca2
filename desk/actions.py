"""Every human action on an incident, declared once: who may take it, what it takes, which workflow update
runs it, how its command is built, what it is called and asks before it runs, and when the incident allows it.

The JSON API adds one route per action from this table (api.routes.incidents), the incident page one form
per action (api.web.pages); both run it through desk.service.act. Labels and confirmations are msgids of
the page catalog (api/locales; the extraction reads this file), in English, translated there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from desk import clocks as clk
from desk import refusals
from desk.duplicates import link_target, merge_target
from desk.errors import Forbidden, InvalidInput
from desk.inputs import (
    AcknowledgeIn,
    CloseIn,
    LevelIn,
    LinkIn,
    MergeIn,
    NoteIn,
    ReassignIn,
    ReleaseIn,
    ReopenIn,
    SupportIn,
    TaskDoneIn,
    TaskIn,
    UrgeIn,
    WaiveIn,
)
from desk.messages import (
    Acknowledge,
    AddNote,
    AddSupport,
    AssignTask,
    ChangeLevel,
    Close,
    CompleteTask,
    LinkRelated,
    MergeInto,
    Reassign,
    RecordRelease,
    Reopen,
    Urge,
    Waive,
)
from desk.models import Incident, User
from desk.service import LEAD, SUPPORT_IS_LEAD, SUPPORTING, active_party, check_release_time
from desk.users import ADMIN, DUTY_OFFICER, RESPONDER, SUPERVISOR
from workflows.incident import IncidentWorkflow

RESPONDERS = (RESPONDER, SUPERVISOR, ADMIN)
SUPERVISORS = (SUPERVISOR, ADMIN)
EVERYONE = (DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN)
OPENERS = (DUTY_OFFICER, SUPERVISOR, ADMIN)  # who opens incidents tells duplicates apart (SPEC §9)
OPEN_STATES = (clk.PENDING, clk.OVERDUE)

States = Mapping[str, str]  # the incident's milestones: key -> state


def N_(message: str) -> str:  # noqa: N802 (gettext's marker: extracted into the page catalog, translated there)
    return message


@dataclass(frozen=True)
class Action:
    key: str  # as in the page's URL: /incidents/{id}/{key}
    path: str  # the JSON API's: /api/incidents/{id}/{path}
    summary: str  # the JSON API's OpenAPI summary
    model: type[BaseModel]  # what the person gives
    roles: tuple[str, ...]
    update: Any  # the IncidentWorkflow update that runs it
    command: Callable[[User, Any, Session], Any] | None  # (user, input, session) -> the update's desk.messages command
    label: str  # msgid
    confirm: str  # msgid; %(id)s the incident, %(party)s its responsible party
    allowed: Callable[[Incident, States], bool]  # the incident's state lets it be taken now
    precheck: Callable[[Incident, Any], None] | None = None  # (incident, input); raises desk.errors before the update
    body_optional: bool = False  # the JSON API takes the request without a body (all defaults)
    meets: str | None = None  # the milestone this action completes: offered first while that one is next due
    rare: bool = False  # the page keeps it under "More actions"
    # Instead of ``command``, for an action that names another incident: (user, input, session, incident) ->
    # the command; it looks the other one up and raises desk.errors (on the form's field) before the update.
    command_on: Callable[[User, Any, Session, Incident], Any] | None = None

    def build(self, user: User, body: Any, session: Session, incident: Incident) -> Any:
        """The update's command for this input on this incident."""
        if self.command_on is not None:
            return self.command_on(user, body, session, incident)
        assert self.command is not None  # every action has one of the two
        return self.command(user, body, session)
    # Who among the responders: LEAD (the lead party's; releases stay with the lead), or SUPPORTING too (a
    # supporting party acknowledges on its own clock, adds notes and task results).
    parts: tuple[str, ...] = (LEAD,)


def _is_open(incident: Incident, _states: States) -> bool:
    return incident.status == "open"


def _unacknowledged(incident: Incident, states: States) -> bool:
    return _is_open(incident, states) and states.get("acknowledge") in OPEN_STATES


def _first_release_done(incident: Incident, states: States) -> bool:
    return _is_open(incident, states) and states.get("first_release") in clk.DONE_STATES


def _any_milestone_open(incident: Incident, states: States) -> bool:
    return _is_open(incident, states) and any(s in OPEN_STATES for s in states.values())


def _closed(incident: Incident, _states: States) -> bool:
    return incident.status != "open" and not incident.merged_into  # a merged incident stays closed


def _not_merged(incident: Incident, _states: States) -> bool:
    return not incident.merged_into


def _always(_incident: Incident, _states: States) -> bool:
    return True


def _task_open(incident: Incident, states: States) -> bool:
    """An open task this viewer may report on (the page gives only the viewer's own tasks' states)."""
    return _is_open(incident, states) and any(k.startswith("task-") and s in OPEN_STATES for k, s in states.items())


def _responder_party(user: User) -> str:
    """The party a responder acts for ("" for a supervisor or admin: on the incident's behalf)."""
    return (user.party_code or "") if user.role == RESPONDER else ""


def _add_support(user: User, body: SupportIn, session: Session) -> AddSupport:
    party = active_party(session=session, code=body.party)
    return AddSupport(actor=user.username, party_code=party.code, party_name=party.name)


def _not_the_lead(incident: Incident, body: SupportIn) -> None:
    if body.party == incident.party_code:
        raise InvalidInput(SUPPORT_IS_LEAD, code=refusals.SUPPORT_IS_LEAD, field="party", params={"party": body.party})


def _assign_task(user: User, body: TaskIn, session: Session) -> AssignTask:
    party = active_party(session=session, code=body.party)
    return AssignTask(actor=user.username, party_code=party.code, party_name=party.name, text=body.text,
                      due_at=body.due_at, needs_attachment=body.needs_attachment, by_party=_responder_party(user))


def _release(kind: str) -> Callable[[User, ReleaseIn, Session], RecordRelease]:
    return lambda user, body, _s: RecordRelease(actor=user.username, kind=kind, released_at=body.released_at,
                                                channel=body.channel, url=body.url, summary=body.summary,
                                                facts=body.facts, measures=body.measures, progress=body.progress)


def _complete_task(user: User, body: TaskDoneIn, session: Session, incident: Incident) -> CompleteTask:
    """The result of a task; a file given as the result must be one kept as evidence of this incident (not
    withdrawn): refused on the field otherwise, before the workflow is asked."""
    if body.attachment:
        from desk.models import Attachment

        kept = session.exec(select(Attachment.id).where(Attachment.incident_id == incident.id,
                                                       Attachment.sha256 == body.attachment,
                                                       col(Attachment.withdrawn_at).is_(None))).first()
        if kept is None:
            raise InvalidInput("所附文件不是本事件的附件（或已撤回）；请先在“证据与附件”中上传，再选择它。",
                               code="task.attachment_unknown", field="attachment")
    return CompleteTask(actor=user.username, task=body.task, note=body.note, attachment=body.attachment,
                        by_party=_responder_party(user))


def _release_time(incident: Incident, body: ReleaseIn) -> None:
    check_release_time(incident=incident, released_at=body.released_at)


def _reassign(user: User, body: ReassignIn, session: Session) -> Reassign:
    party = active_party(session=session, code=body.party)
    return Reassign(actor=user.username, party_code=party.code, party_name=party.name, reason=body.reason)


def _link(user: User, body: LinkIn, session: Session, incident: Incident) -> LinkRelated:
    other = link_target(session=session, user=user, other=body.other, incident_id=incident.id)
    assert other.id is not None  # a row read from the database
    return LinkRelated(actor=user.username, other=other.human_id, other_id=other.id, other_title=other.title,
                       reason=body.reason)


def _merge(user: User, body: MergeIn, session: Session, incident: Incident) -> MergeInto:
    into = merge_target(session=session, user=user, into=body.into, incident_id=incident.id)
    return MergeInto(actor=user.username, into=into.human_id, into_workflow_id=into.workflow_id,
                     into_title=into.title, reason=body.reason)


_ACTIONS = [
    Action("acknowledge", "acknowledge", "Acknowledge (签收)", AcknowledgeIn, RESPONDERS, IncidentWorkflow.acknowledge,
           lambda u, b, _s: Acknowledge(actor=u.username, note=b.note, party_code=_responder_party(u)),
           N_("Acknowledge"),
           N_("Acknowledge %(id)s for %(party)s? The acknowledgement milestone is recorded as met now."),
           _unacknowledged, body_optional=True, meets="acknowledge", parts=(LEAD, SUPPORTING)),
    Action("release", "releases", "Record an authoritative release (发布权威信息)", ReleaseIn, RESPONDERS,
           IncidentWorkflow.record_release, _release("release"),
           N_("Record an authoritative release"),
           N_("Record an authoritative release for %(id)s? The first-release milestone (and the acknowledgement, "
              "if still open) is recorded as met at the release time, and the follow-up clock starts."),
           _is_open, precheck=_release_time, meets="first_release"),
    Action("press_conference", "press-conferences", "Record a press conference (新闻发布会; also a release)", ReleaseIn,
           RESPONDERS, IncidentWorkflow.record_release, _release("press_conference"),
           N_("Record a press conference"),
           N_("Record a press conference for %(id)s? It also counts as an authoritative release."),
           _is_open, precheck=_release_time, meets="press_conference"),
    Action("update", "updates", "Record a follow-up release (动态发布)", ReleaseIn, RESPONDERS,
           IncidentWorkflow.record_release, _release("update"),
           N_("Record a follow-up release"),
           N_("Record a follow-up release for %(id)s? The next follow-up deadline is counted from its time."),
           _first_release_done, precheck=_release_time, meets="follow_up"),
    Action("note", "notes", "Add a note (备注)", NoteIn, EVERYONE, IncidentWorkflow.add_note,
           lambda u, b, _s: AddNote(actor=u.username, text=b.text),
           N_("Add a note"),
           N_("Add this note to the timeline of %(id)s? Timeline entries cannot be edited or deleted."),
           _always, parts=(LEAD, SUPPORTING)),
    Action("task_done", "task-results", "Report a task done (督办事项办结)", TaskDoneIn, RESPONDERS,
           IncidentWorkflow.complete_task, None,
           N_("Report a task done"),
           N_("Report this task of %(id)s as done? The result is kept in the timeline."),
           _task_open, parts=(LEAD, SUPPORTING), command_on=_complete_task),
    Action("task", "tasks", "Assign a task to a party (交办督办事项)", TaskIn, RESPONDERS, IncidentWorkflow.assign_task,
           _assign_task,
           N_("Assign a task"),
           N_("Give this task to the chosen party of %(id)s? Its own deadline, reminders and escalation start now."),
           _is_open),
    Action("support", "supporting-parties", "Add a supporting party (配合单位)", SupportIn, SUPERVISORS,
           IncidentWorkflow.add_support, _add_support,
           N_("Add a supporting party"),
           N_("Add the chosen party to %(id)s as a supporting party? It sees the incident and gets its own "
              "acknowledgement deadline; releases stay with %(party)s."),
           _is_open, precheck=_not_the_lead, rare=True),
    Action("urge", "urges", "Urge the responsible party (督办)", UrgeIn, SUPERVISORS, IncidentWorkflow.urge,
           lambda u, b, _s: Urge(actor=u.username, text=b.text),
           N_("Urge the party"),
           N_("Send this urge to %(party)s for %(id)s? It goes through the party's notification channels and "
              "stays in the timeline."),
           _is_open),
    Action("reassign", "reassign", "Reassign to another party (改派)", ReassignIn, SUPERVISORS,
           IncidentWorkflow.reassign, _reassign,
           N_("Reassign to another party"),
           N_("Reassign %(id)s to the chosen party? The deadlines keep running from the detected time."),
           _is_open, rare=True),
    Action("level", "level", "Change the level (调整级别)", LevelIn, SUPERVISORS, IncidentWorkflow.change_level,
           lambda u, b, _s: ChangeLevel(actor=u.username, level=b.level.value, reason=b.reason),
           N_("Change the level"),
           N_("Change the level of %(id)s? Pending deadlines are recomputed from the detected time; a deadline "
              "already past escalates at once."),
           _is_open, rare=True),
    Action("waive", "waive", "Waive a milestone with a reason (豁免)", WaiveIn, SUPERVISORS, IncidentWorkflow.waive,
           lambda u, b, _s: Waive(actor=u.username, milestone=b.milestone, reason=b.reason),
           N_("Waive a milestone"),
           N_("Waive the chosen milestone of %(id)s? Its reminders and escalations stop; the reason is kept in the "
              "timeline."),
           _any_milestone_open, rare=True),
    Action("close", "close", "Close (结案)", CloseIn, SUPERVISORS, IncidentWorkflow.close,
           lambda u, b, _s: Close(actor=u.username, reason=b.reason),
           N_("Close the incident"),
           N_("Close %(id)s? Every due milestone must be met or waived."),
           _is_open, body_optional=True),
    Action("reopen", "reopen", "Reopen (重新打开)", ReopenIn, SUPERVISORS, IncidentWorkflow.reopen,
           lambda u, b, _s: Reopen(actor=u.username, reason=b.reason),
           N_("Reopen the incident"),
           N_("Reopen %(id)s? Its follow-up clock runs again."),
           _closed, rare=True),
    Action("link", "links", "Link a related incident (关联)", LinkIn, OPENERS, IncidentWorkflow.link_related, None,
           N_("Link a related incident"),
           N_("Link %(id)s with the chosen incident as related? Both pages list the other; no deadline changes."),
           _not_merged, command_on=_link, rare=True),
    Action("merge", "merge", "Merge into another incident (合并)", MergeIn, OPENERS, IncidentWorkflow.merge_into, None,
           N_("Merge into another incident"),
           N_("Close %(id)s as merged into the chosen incident? Its deadlines stop and it cannot be reopened; its "
              "timeline stays readable from the other one."),
           _is_open, command_on=_merge, rare=True),
]
ACTIONS: dict[str, Action] = {a.key: a for a in _ACTIONS}  # in the order the incident page shows them


def allowed_actions(user: User, incident: Incident, states: States, part: str | None = None) -> list[str]:
    """The actions this user may take on this incident now, in the page's order. ``part``: a responder's part in
    the incident (desk.service.party_role); ``states`` the clocks as this viewer sees them (its own
    acknowledgement as "acknowledge", its own tasks)."""
    return [a.key for a in ACTIONS.values() if user.role in a.roles and a.allowed(incident, states)
            and (part is None or part in a.parts)]


def check_part(action: Action, part: str | None) -> None:
    """A responder takes only the actions of its part in the incident: releases stay with the lead."""
    if part is not None and part not in action.parts:
        raise Forbidden("配合单位不能执行此操作；信息发布和督办事项交办由牵头单位负责。", code="support.only_lead")


def next_step(allowed: list[str], open_milestones: list[tuple[str, Any]]) -> tuple[str, str] | None:
    """What is due next and the action that completes it, if this user may take it: (milestone, action).
    ``open_milestones``: (key, due_at) of the open ones; the earliest due comes first."""
    by_milestone = {ACTIONS[k].meets: k for k in allowed if ACTIONS[k].meets}
    for key, _due in sorted(open_milestones, key=lambda m: m[1]):
        if key in by_milestone:
            return key, by_milestone[key]
    return None
