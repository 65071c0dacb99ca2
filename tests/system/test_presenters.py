"""The incident list's read model: a page of incidents costs a fixed number of queries, not some per row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from api.presenters import incident_out, incidents_out
from desk.db import get_engine, init_db, session_scope
from desk.models import Incident, Milestone, Party, utcnow


def test_a_page_of_incidents_is_read_in_a_fixed_number_of_queries(database_url):
    init_db(database_url)
    now = utcnow()
    with session_scope(database_url) as session:
        session.add(Party(code="p-a", name="甲单位", kind="county"))
        session.add(Party(code="p-b", name="乙单位", kind="department"))
        session.flush()
        for n in range(30):
            incident = Incident(human_id=f"YQ-2026-{n:06d}", workflow_id=f"w-{n}", title=f"事件{n}", source="web",
                                category="accident", level="III", party_code="p-a" if n % 2 else "p-b",
                                detected_at=now, opened_at=now)
            session.add(incident)
            session.flush()
            for k, key in enumerate(("acknowledge", "first_release")):
                session.add(Milestone(incident_id=incident.id, key=key, label=key, due_at=now + timedelta(hours=k)))
        session.commit()
    with session_scope(database_url) as session:
        incidents = list(session.query(Incident).order_by(Incident.id).all())
        statements: list[str] = []
        engine = get_engine(database_url)
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = incidents_out(session, incidents)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(statements) <= 4  # parties, milestones, supporting parties, tasks: whatever the page size
        # the same as reading each one alone
        assert page == [incident_out(session, i) for i in incidents]
        assert [m.key for m in page[0].milestones] == ["acknowledge", "first_release"]
        assert page[1].party.name == "甲单位" and (page[0].party.name, page[0].party.kind) == ("乙单位", "department")
