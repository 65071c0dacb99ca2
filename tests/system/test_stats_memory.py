"""The assessment remembers recent reports (desk/stats/cache.py); a supervisor must never see a stale one.

Each test reads a report, changes what it depends on the way the system would (the worker writing from
another process, time passing a deadline, an admin renaming a party, a write in this process followed by
the explicit invalidation every writer makes), and expects the next report to show the change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlmodel import select

from desk import stats
from desk.db import session_scope
from desk.models import Incident, Milestone, Party
from tests.system.test_stats import NOW, Q1, known, party, report  # noqa: F401 (known is the fixture)


def first_release(rep, code: str) -> dict:
    return party(rep, code)["milestones"]["first_release"]


def test_a_write_by_the_worker_shows_at_once(known):  # noqa: F811
    before = first_release(report(known), "enyang")
    assert (before["waived"], before["pending"]) == (0, 1)

    # The worker is another process: it writes through its own connection and raises the version.
    engine = create_engine(known)
    try:
        with engine.begin() as conn:
            incident_id = conn.execute(text(
                "SELECT id FROM incident WHERE party_code = 'enyang' AND level = 'I'")).scalar_one()
            conn.execute(text("UPDATE milestone SET state = 'waived', waived_reason = '上级统一发布' "
                              "WHERE incident_id = :id AND key = 'first_release'"), {"id": incident_id})
            conn.execute(text("UPDATE incident SET version = version + 1 WHERE id = :id"), {"id": incident_id})
    finally:
        engine.dispose()

    after = first_release(report(known), "enyang")
    assert (after["waived"], after["pending"]) == (1, 0)


def test_a_deadline_passing_counts_as_overdue_without_any_write(known):  # noqa: F811
    assert first_release(report(known), "enyang")["overdue"] == 0

    later = datetime(2026, 4, 3, tzinfo=UTC)  # F's release was due 2 April, 23:00 Beijing time
    with session_scope(known) as s:
        rep = stats.assessment(s, Q1, now=later)
    assert (first_release(rep, "enyang")["overdue"], first_release(rep, "enyang")["pending"]) == (1, 0)
    assert rep["generated_at"] == later.isoformat()
    assert first_release(report(known), "enyang")["overdue"] == 0  # and back at NOW, as it was then


def test_a_renamed_party_shows_its_new_name(known):  # noqa: F811
    assert party(report(known), "enyang")["name"] == "恩阳区人民政府"
    with session_scope(known) as s:
        p = s.get(Party, "enyang")
        p.name = "恩阳区人民政府办公室"
        s.add(p)
        s.commit()
    assert party(report(known), "enyang")["name"] == "恩阳区人民政府办公室"


def test_a_correction_made_in_this_process_shows_once_invalidated_even_without_a_new_version(known):  # noqa: F811
    assert first_release(report(known), "enyang")["met"] == 1
    with session_scope(known) as s:
        e = s.exec(select(Incident).where(Incident.party_code == "enyang", Incident.level == "II")).one()
        m = s.exec(select(Milestone).where(Milestone.incident_id == e.id, Milestone.key == "first_release")).one()
        m.state = "met_late"
        s.add(m)
        s.commit()
    stats.invalidate()  # what every writer of incidents or milestones in this process does after committing
    rep = report(known)
    assert (first_release(rep, "enyang")["met"], first_release(rep, "enyang")["met_late"]) == (0, 1)
    assert rep["generated_at"] == NOW.isoformat()


def test_the_memory_is_invalidated_explicitly_not_hooked_into_every_session():
    """Writers call ``stats.invalidate()``; importing the statistics hooks nothing into SQLAlchemy sessions."""
    from sqlalchemy.orm import Session as OrmSession

    session = OrmSession()
    try:
        assert [len(getattr(session.dispatch, name)) for name in ("after_flush", "do_orm_execute", "after_commit")] \
            == [0, 0, 0]
    finally:
        session.close()
