"""Report pages and downloads (SPEC §10): an incident's post-incident review (复盘报告) as a print page (A4),
``.docx`` and PDF; the assessment 通报 of a month or quarter as ``.docx``, PDF and ``.xlsx``.

The review is worded here, in the viewer's language, with the incident page's timeline renderer
(``views.timeline``); desk.reports gathers the record and writes the bytes. The review is for whoever sees the
incident (a responder: its own party's); the 通报 for those who read the assessment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session, col, select

from api.deps import ensure_can_see, get_session
from api.web import labels, views
from api.web.i18n import gettext
from api.web.security import PageError, page_role, page_user
from api.web.supervisor import ASSESSORS, page
from api.web.templating import language, local, translator
from desk import reports
from desk.errors import DeskError, NotFound
from desk.models import ReportRun, User
from desk.reports import Column, Document, Entries, Facts, Paragraph, Section, Table
from desk.timefmt import SHANGHAI
from desk.vocab import MilestoneState

router = APIRouter(include_in_schema=False)
REVIEW_FORMATS = ("docx", "pdf")
BULLETIN_FORMATS = ("docx", "pdf", "xlsx")


def _download(body: bytes, fmt: str, filename: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(body, media_type=reports.FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}.{fmt}\"; "
                               f"filename*=UTF-8''{quote(filename)}.{fmt}",
        "Cache-Control": "no-store"})


@router.get("/reports/document.css")
def document_css() -> Response:
    """The reports' layout (A4): the print page links it, the PDF is drawn with it."""
    return Response(reports.DOCUMENT_CSS, media_type="text/css", headers={"Cache-Control": "max-age=300"})


# --- the post-incident review ---------------------------------------------------------------------------------


def review_document(session: Session, human_id: str, user: User, lang: str) -> Document:
    """The review of one incident in ``lang``; NotFound for an unknown incident or one the user may not see."""
    def _(message: str, **values: object) -> str:
        return gettext(lang, message, **values)

    record = reports.review_record(session=session, human_id=human_id)
    ensure_can_see(session, user, record.incident)
    i = record.incident
    people = record.people

    def who(username: str) -> str:
        return _("System") if username == "system" else people.get(username, username)

    def when(value: datetime | None) -> str:
        return local(value, "%Y-%m-%d %H:%M:%S") if value else ""

    def span(seconds: float) -> str:
        return views.span(seconds, _, lang)

    def level(code: str) -> str:
        return _(labels.LEVELS.get(code, code)) if code else ""

    def milestone(key: str) -> str:
        return _(labels.MILESTONES.get(key, key))

    facts = [(_("Incident"), i.human_id), (_("Title"), (_("[Drill]") + " " if i.drill else "") + i.title),
             (_("Level"), level(i.level)), (_("Category"), _(labels.CATEGORIES.get(i.category, i.category))),
             (_("Source"), _(labels.SOURCES.get(i.source, i.source)) + (f" · {i.source_url}" if i.source_url else "")),
             (_("Responsible party"), record.party_name),
             (_("Detected at"), when(i.detected_at)), (_("Opened"), f"{when(i.opened_at)} · {who(i.reporter)}"),
             (_("Status"), _(labels.STATUSES.get(i.status, i.status)))]
    if i.closed_at:
        facts += [(_("Closed"), when(i.closed_at)),
                  (_("Detection to closing"), span((i.closed_at - i.detected_at).total_seconds()))]
    if i.summary:
        facts.append((_("Summary"), i.summary))

    levels = [[_("At opening") if c.at is None else when(c.at), level(c.level), level(c.previous),
               who(c.actor) if c.actor else "", c.reason] for c in record.levels]
    parties = [[p.name, when(p.since), when(p.until) if p.until else _("to date"), p.reason] for p in record.parties]
    party_blocks: list = [Table([Column(_("Party"), width=3), Column(_("Since"), width=2), Column(_("Until"), width=2),
                                 Column(_("Reason"), width=3)], parties)]
    if record.liaisons:
        party_blocks.append(Paragraph(_("Liaison") + ": " + _(", ").join(
            f"{name} {phone}".strip() for name, phone in record.liaisons)))

    milestones = []
    for m in record.milestones:
        late = ""
        if m.met_at is not None and m.met_at > m.due_at:
            late = span((m.met_at - m.due_at).total_seconds())
        elif m.state in (MilestoneState.pending, MilestoneState.overdue) and m.due_at < datetime.now(UTC):
            late = _("%(t)s so far", t=span((datetime.now(UTC) - m.due_at).total_seconds()))
        milestones.append([milestone(m.key), when(m.due_at), _(labels.MILESTONE_STATES.get(m.state, m.state)),
                           when(m.met_at), late or "—", m.waived_reason or ""])

    def parts(missing: list[str]) -> str:  # 事实 · 措施 · 结果/进展: all said, or which are missing
        return _("All three") if not missing else _("Missing: %(parts)s",
                                                      parts=_(", ").join(_(labels.RELEASE_PARTS[m]) for m in missing))

    releases = [[_(labels.EVENTS.get(r.kind, r.kind)), when(r.released_at), r.channel, r.url, r.summary,
                 parts(r.missing), who(r.actor)] for r in record.releases]
    attachments = [[a.name if a.withdrawn_reason is None else _("%(name)s (withdrawn: %(reason)s)", name=a.name,
                                                                  reason=a.withdrawn_reason),
                    a.sha256, when(a.at), who(a.actor)] for a in record.attachments]
    deliveries = [[views.tag_names(d.tag, record.names, _), d.due, d.delivered, d.undelivered, d.failed_attempts]
                  for d in record.deliveries]
    entries = views.timeline(session, record.events, record.notes, _, local, user)
    entries.reverse()  # the incident page shows the newest first; a review reads from the start
    timeline = [(when(e.at), e.title, e.actor, "；".join(f"{label}: {text}" for label, text, _href in e.details))
                for e in entries]

    now = datetime.now(SHANGHAI)
    return Document(
        title=_("Post-incident review: %(title)s", title=(_("[Drill]") + " " if i.drill else "") + i.title),
        subtitle=f"{i.human_id} · {record.party_name}", date=now.strftime("%Y-%m-%d"), lang=lang,
        filename=f"{_('Review')}_{i.human_id}",
        footer=_("Made by the desk from the incident's timeline on %(when)s (Beijing time) for %(who)s.",
                 when=now.strftime("%Y-%m-%d %H:%M"), who=user.display_name or user.username),
        sections=[
            Section(_("Facts"), [Facts(facts)]),
            Section(_("Level history"), [Table([Column(_("When"), width=2.2), Column(_("Level"), width=2),
                                                Column(_("Previous level"), width=2), Column(_("By"), width=1.6),
                                                Column(_("Reason"), width=3)], levels)]),
            Section(_("Responsible parties"), party_blocks),
            Section(_("Deadlines"), [Table([Column(_("Milestone"), width=2.4), Column(_("Due"), width=2.2),
                                            Column(_("State"), width=1.4), Column(_("Met at"), width=2.2),
                                            Column(_("Late by"), width=1.6), Column(_("Waiver reason"), width=2)],
                                           milestones, empty=_("No deadlines."))]),
            Section(_("Releases"), [Table([Column(_("Kind"), width=1.8), Column(_("Released at"), width=2.2),
                                           Column(_("Channel"), width=1.6), Column(_("Link"), width=2.4),
                                           Column(_("What was released"), width=3),
                                           Column(_("Facts, measures, outcome"), width=1.8), Column(_("By"), width=1.4)],
                                          releases, empty=_("No release has been recorded."))]),
            Section(_("Attachments"), [Table([Column(_("File"), width=3), Column("sha256", width=4.5),
                                              Column(_("Added"), width=2), Column(_("By"), width=1.5)],
                                             attachments, empty=_("No attachments are recorded for this incident."))]),
            Section(_("Notifications"), [
                Paragraph(_("Messages by recipient: due, taken by a channel (delivered or accepted), taken by none. "
                            "A message to several recipients counts under each.")),
                Table([Column(_("Sent to"), width=3), Column(_("Messages due"), reports.COUNT, 1.2),
                       Column(_("Delivered"), reports.COUNT, 1.2), Column(_("Not delivered"), reports.COUNT, 1.2),
                       Column(_("Failed attempts"), reports.COUNT, 1.2)], deliveries,
                      empty=_("No notification was sent."))]),
            Section(_("Timeline"), [Entries(timeline)]),
        ])


def _review(request: Request, session: Session, user: User, human_id: str) -> Document:
    try:
        return review_document(session, human_id, user, language(request))
    except NotFound as exc:
        raise PageError(404, views.desk_error_text(exc, translator(request))) from None


@router.get("/incidents/{human_id}/review")
def review_page(request: Request, human_id: str, user: User = Depends(page_user),
                session: Session = Depends(get_session)):
    doc = _review(request, session, user, human_id)
    return page(request, "review.html", {"doc": doc, "body": reports.html_body(doc), "human_id": human_id})


@router.get("/incidents/{human_id}/review.{fmt}")
def review_download(request: Request, human_id: str, fmt: str, user: User = Depends(page_user),
                    session: Session = Depends(get_session)):
    if fmt not in REVIEW_FORMATS:
        raise PageError(404, translator(request)("This page does not exist."))
    doc = _review(request, session, user, human_id)
    return _download(reports.render(doc, fmt), fmt, doc.filename)


# --- the assessment 通报 ----------------------------------------------------------------------------------------


@router.get("/assessment/report")
def bulletin_download(request: Request, period: str = "", format: str = "docx",  # noqa: A002 (the query's name)
                      user: User = Depends(page_role(*ASSESSORS)), session: Session = Depends(get_session)):
    _ = translator(request)
    if format not in BULLETIN_FORMATS:
        raise PageError(422, _("Choose the format: .docx, PDF or .xlsx."))
    try:
        chosen = reports.report_period(period)
    except DeskError as exc:
        raise PageError(422, views.desk_error_text(exc, _)) from None
    doc = reports.bulletin(session, chosen)
    return _download(reports.render(doc, format), format, doc.filename)


# --- scheduled reports: the runs and their files ---------------------------------------------------------------

RUNS_SHOWN = 200


@router.get("/reports/runs")
def report_runs_page(request: Request, user: User = Depends(page_role(*ASSESSORS)),
                     session: Session = Depends(get_session)):
    runs = session.exec(select(ReportRun).order_by(col(ReportRun.created_at).desc()).limit(RUNS_SHOWN)).all()
    return page(request, "report_runs.html", {"runs": runs, "kinds": labels.REPORT_KINDS,
                                              "statuses": labels.REPORT_STATUSES,
                                              "deliveries": labels.DELIVERY})


@router.get("/reports/runs/{run_id}/file")
def report_run_file(request: Request, run_id: int, user: User = Depends(page_role(*ASSESSORS)),
                    session: Session = Depends(get_session)):
    _ = translator(request)
    run = session.get(ReportRun, run_id)
    blobs = request.app.state.blobs
    if run is None or not blobs.exists(run.sha256):
        raise PageError(404, _("This report's file is not kept here."))
    stem, _dot, fmt = run.filename.rpartition(".")
    headers = dict(_download(b"", fmt, stem).headers)
    headers.pop("content-length", None)
    return StreamingResponse(blobs.read(run.sha256), media_type=reports.FORMATS.get(fmt, "application/octet-stream"),
                             headers=headers)
