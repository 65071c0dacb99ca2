"""Release templates per category: the built-in ones, an admin's saved ones (table ``release_template``), and
the template filled for one incident, which the release form offers.

Service layer: SQL, no HTTP. The rules for a template's text are in desk/release_content.py (core).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from desk.models import Incident, Party, ReleaseTemplate, utcnow
from desk.release_content import PARTS, check_template, fill
from desk.stats.definitions import CATEGORY_LABELS, LEVEL_LABELS
from desk.timefmt import SHANGHAI
from desk.vocab import Category

# What an office would write, as a start: the facts as known, what is being done, what has come of it.
BUILT_IN: dict[str, dict[str, str]] = {
    Category.natural_disaster: {
        "facts": "{detected_at}，{title}。经核实，（受灾范围、人员伤亡、财产损失等基本情况）。",
        "measures": "{party}已启动应急响应，（抢险救援、转移安置、交通管制等措施）。",
        "progress": "截至目前，（救援进展、伤员救治、道路恢复等情况）。后续情况将及时发布。",
    },
    Category.accident: {
        "facts": "{detected_at}，{title}。经核实，（事故经过、伤亡人数等基本情况）。",
        "measures": "事故发生后，{party}立即（现场处置、伤员救治、原因调查等措施）。",
        "progress": "目前，（处置进展、调查结论或下一步安排）。后续情况将及时发布。",
    },
    Category.public_health: {
        "facts": "{detected_at}，{title}。经核实，（病例或事件基本情况）。",
        "measures": "{party}已（流行病学调查、医疗救治、防控措施等）。",
        "progress": "截至目前，（救治、排查、防控进展）。请广大群众（健康提示）。",
    },
    Category.social_security: {
        "facts": "{detected_at}，{title}。经核实，（事件经过与基本事实）。",
        "measures": "{party}已（依法处置、现场秩序维护、调查等措施）。",
        "progress": "目前，（处置结果或进展）。请广大网民不信谣、不传谣。",
    },
    Category.public_opinion: {
        "facts": "近日，网民反映“{title}”。经核实，（反映问题的真实情况）。",
        "measures": "{party}高度重视，（核查整改、回应关切的具体措施）。",
        "progress": "目前，（整改结果或进展）。感谢社会各界的监督。",
    },
}


@dataclass(frozen=True)
class Template:
    category: str
    facts: str
    measures: str
    progress: str
    built_in: bool
    updated_by: str = ""

    def part(self, name: str) -> str:
        return str(getattr(self, name))


def template_for(session: Session, category: str) -> Template:
    row = session.get(ReleaseTemplate, category)
    if row is not None:
        return Template(category, row.facts, row.measures, row.progress, built_in=False, updated_by=row.updated_by)
    parts = BUILT_IN.get(category, BUILT_IN[Category.public_opinion])
    return Template(category, parts["facts"], parts["measures"], parts["progress"], built_in=True)


def all_templates(session: Session) -> list[Template]:
    return [template_for(session, c.value) for c in Category]


def save_template(session: Session, category: str, parts: dict[str, str], actor: str) -> Template:
    """Save an admin's template: refused (TemplateError, naming the part and the placeholder) before anything is
    written when it names a placeholder that does not exist."""
    if category not in {c.value for c in Category}:
        raise ValueError(f"unknown category: {category}")
    texts = {p: (parts.get(p) or "").strip() for p in PARTS}
    check_template(texts)
    row = session.get(ReleaseTemplate, category) or ReleaseTemplate(category=category)
    row.facts, row.measures, row.progress = texts["facts"], texts["measures"], texts["progress"]
    row.updated_by, row.updated_at = actor, utcnow()
    session.add(row)
    session.commit()
    return template_for(session, category)


def offered(session: Session, incident: Incident) -> dict[str, str]:
    """The template for this incident's category, filled with its facts: what the release form offers."""
    template = template_for(session, incident.category)
    party = session.get(Party, incident.party_code)
    values = {
        "title": incident.title,
        "party": party.name if party else incident.party_code,
        "detected_at": incident.detected_at.astimezone(SHANGHAI).strftime("%Y年%-m月%-d日%H时%M分"),
        "category": {str(k): v for k, v in CATEGORY_LABELS.items()}.get(incident.category, incident.category),
        "level": {str(k): v for k, v in LEVEL_LABELS.items()}.get(incident.level, incident.level),
        "incident_id": incident.human_id,
    }
    return {p: fill(template.part(p), values) for p in PARTS}
