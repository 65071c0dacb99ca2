"""Duplicates and related incidents (SPEC §9): likely duplicates while a title is typed, and the other side of a
link or a merge.

The same hot topic arrives from 12345, Weibo and 上级交办 within days, worded differently. Similarity is over
overlapping character bigrams of title and summary (punctuation and spaces dropped, Latin letters lowered),
not over the search index's trigrams: Chinese words are mostly two characters, and two reports of one event
often share only those (巴州区燃气爆炸 / 燃气泄漏引发爆炸 share 燃气 and 爆炸, no trigram). The candidates are
the incidents detected in the last 14 days (an index range on ``detected_at``: a few hundred rows in a
busy fortnight, capped at ``MAX_CANDIDATES``), scored here. Place names weigh little (the bigrams of the
counties' names, 巴州区 / 通江县 …, and of 某 "a certain"): two different events in one county share them,
and the county is the responsible party anyway.

A title of one character has no bigram and finds nothing; two characters are one bigram, found wherever
it occurs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, or_, select

from desk import refusals
from desk.errors import Conflict, InvalidInput, incident_not_found
from desk.models import Incident, IncidentLink, Party, User
from desk.service import can_see
from desk.vocab import IncidentStatus

WINDOW = timedelta(days=14)
MAX_CANDIDATES = 2000  # the most recent ones of the window, should a fortnight ever hold more
SHOWN = 5
THRESHOLD = 0.25  # below it two texts share too little to call them the same topic
WEAK = 0.2  # the weight of a place name's bigram (a topic's own words weigh 1)
_GOVERNMENT = re.compile(r"(人民政府|管委会)$")
SUMMARY_CHARS = 300  # a summary's opening says what it is about; the rest only dilutes the score


def bigrams(text: str) -> set[str]:
    """Overlapping character pairs of the text's letters and digits (CJK included), lowered."""
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", text).lower()
                   if unicodedata.category(ch)[0] in ("L", "N"))
    return {kept[i:i + 2] for i in range(len(kept) - 1)}


def similarity(query: set[str], other: set[str], weight: dict[str, float] | None = None) -> float:
    """0..1: the weighted share of bigrams in common, as the mean of Dice (both texts alike) and the overlap
    coefficient (the shorter text found in the longer one: a short typed title inside a longer one)."""
    if not query or not other:
        return 0.0
    w = weight or {}
    def mass(s: set[str]) -> float:
        return sum(w.get(b, 1.0) for b in s)
    common, a, b = mass(query & other), mass(query), mass(other)
    if not common:
        return 0.0
    return (2 * common / (a + b) + common / min(a, b)) / 2


@dataclass(frozen=True)
class Similar:
    incident: Incident
    party_name: str
    score: float


def _document(incident: Incident) -> set[str]:
    return bigrams(incident.title) | bigrams(incident.summary[:SUMMARY_CHARS])


def similar_incidents(*, session: Session, title: str, summary: str = "", exclude: str = "",
                      now: datetime | None = None, limit: int = SHOWN) -> list[Similar]:
    """The likely duplicates of a title (and summary) among the incidents detected in the last 14 days, most
    alike first. Incidents already merged into another are left out (their survivor is shown)."""
    title_grams = bigrams(title)
    if not title_grams:
        return []
    query = title_grams | bigrams(summary[:SUMMARY_CHARS])
    since = (now or datetime.now(UTC)) - WINDOW
    rows = session.exec(
        select(Incident).where(col(Incident.detected_at) >= since, col(Incident.merged_into).is_(None),
                               col(Incident.human_id) != exclude)
        .order_by(col(Incident.detected_at).desc()).limit(MAX_CANDIDATES)).all()
    counties = session.exec(select(Party.name).where(Party.kind == "county")).all()
    weight = {b: WEAK for name in counties for b in bigrams(_GOVERNMENT.sub("", name))}
    weight.update({b: WEAK for b in query if "某" in b})
    scored = []
    for row in rows:
        doc, row_title = _document(row), bigrams(row.title)
        # The title alone, or title and summary together: whichever says more (a terse title may match the
        # other's summary, and a long summary must not drown a matching title).
        score = max(similarity(title_grams, row_title, weight), similarity(query, doc, weight))
        if score >= THRESHOLD:
            scored.append((score, row))
    scored.sort(key=lambda s: (-s[0], -s[1].detected_at.timestamp()))
    names = dict(session.exec(select(Party.code, Party.name)).all()) if scored else {}
    return [Similar(incident=row, party_name=names.get(row.party_code, row.party_code), score=round(score, 3))
            for score, row in scored[:limit]]


# --- the other incident of a link or a merge -------------------------------------------------------------

MERGE_INTO_SELF = "不能把事件合并到它自己，请选择另一个事件。"
MERGE_INTO_CLOSED = "{id} 已结案，不能并入已结案的事件；请选择未结案的事件，或先重新打开它。"
MERGE_INTO_MERGED = "{id} 已并入 {into}，请改为并入 {into}。"
LINK_TO_SELF = "不能把事件与它自己关联，请选择另一个事件。"
ALREADY_LINKED = "{id} 已与本事件关联。"
NO_SUCH_OTHER = "没有编号为 {id} 的舆情事件，请核对编号。"


def _other(session: Session, user: User, human_id: str, field: str) -> Incident:
    """The incident named in a link or merge form, if this user may see it; else InvalidInput on the field (an
    incident of another party answers as one that does not exist)."""
    human_id = human_id.strip().upper()
    other = session.exec(select(Incident).where(Incident.human_id == human_id)).first()
    if other is None or not can_see(session=session, user=user, incident=other):  # the one visibility rule
        error = incident_not_found(human_id)
        raise InvalidInput(NO_SUCH_OTHER.format(id=human_id[:40]), code="duplicate.not_found", field=field,
                           params=error.params)
    return other


def merge_target(*, session: Session, user: User, into: str, incident_id: int | None = None) -> Incident:
    """The survivor of a merge of ``incident_id`` (None: one about to be opened): another incident, open, not
    itself merged. InvalidInput on ``into`` otherwise, so nothing is asked of the workflow."""
    target = _other(session, user, into, "into")
    if target.id == incident_id:
        raise InvalidInput(MERGE_INTO_SELF, code=refusals.MERGE_SELF, field="into")
    if target.merged_into:
        raise InvalidInput(MERGE_INTO_MERGED.format(id=target.human_id, into=target.merged_into),
                           code="merge.target_merged", field="into",
                           params={"id": target.human_id, "into": target.merged_into})
    if target.status != IncidentStatus.open:
        raise InvalidInput(MERGE_INTO_CLOSED.format(id=target.human_id), code="merge.target_closed", field="into",
                           params={"id": target.human_id})
    return target


def link_target(*, session: Session, user: User, other: str, incident_id: int | None = None) -> Incident:
    """The other incident of a link of ``incident_id`` (None: one about to be opened): not itself, not linked
    already (either way round)."""
    target = _other(session, user, other, "other")
    if target.id == incident_id:
        raise InvalidInput(LINK_TO_SELF, code=refusals.LINK_SELF, field="other")
    low, high = sorted((incident_id or 0, target.id or 0))
    if session.exec(select(IncidentLink.id).where(IncidentLink.incident_id == low,
                                                  IncidentLink.related_id == high)).first() is not None:
        raise Conflict(ALREADY_LINKED.format(id=target.human_id), code=refusals.LINK_ALREADY,
                       params={"other": target.human_id})
    return target


@dataclass(frozen=True)
class Relations:
    """What an incident's page shows of its duplicates: the one it was merged into, those merged into it, and
    the related ones (each as (human id, title, status)), only those the viewer may see."""

    merged_into: tuple[str, str, str] | None
    merged_from: list[tuple[str, str, str]]
    related: list[tuple[str, str, str]]


def relations(*, session: Session, user: User, incident: Incident) -> Relations:
    def visible(rows: list[Incident]) -> list[tuple[str, str, str]]:
        return [(r.human_id, r.title, r.status) for r in rows if can_see(session=session, user=user, incident=r)]

    into = None
    if incident.merged_into:
        found = visible(list(session.exec(select(Incident).where(Incident.human_id == incident.merged_into)).all()))
        into = found[0] if found else None
    merged_from = visible(list(session.exec(select(Incident).where(Incident.merged_into == incident.human_id)
                                            .order_by(col(Incident.id))).all()))
    links = session.exec(select(IncidentLink).where(or_(IncidentLink.incident_id == incident.id,
                                                        IncidentLink.related_id == incident.id))).all()
    other_ids = [link.related_id if link.incident_id == incident.id else link.incident_id for link in links]
    related = visible(list(session.exec(select(Incident).where(col(Incident.id).in_(other_ids))
                                        .order_by(col(Incident.id))).all())) if other_ids else []
    return Relations(merged_into=into, merged_from=merged_from, related=related)
