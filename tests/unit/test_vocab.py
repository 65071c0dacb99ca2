"""One vocabulary: every code has a name people can read (in English and in Chinese), the codes are the stored
strings, and every id the desk builds reads back as what it was built from."""

from __future__ import annotations

import json

import pytest

from api.web import i18n, labels
from desk import ids
from desk.temporal import SEARCH_ATTRIBUTES
from desk.vocab import (
    Audience,
    AuditAction,
    Category,
    DeliveryStatus,
    EventKind,
    IncidentStatus,
    Level,
    MilestoneKey,
    MilestoneState,
    NotificationKind,
    ReportKind,
    ReportStatus,
    Role,
    Source,
)

# Every code the pages show, and the catalog that names it.
CATALOGS = [
    (Role, labels.ROLES),
    (EventKind, labels.EVENTS),
    (IncidentStatus, labels.STATUSES),
    (MilestoneState, labels.MILESTONE_STATES),
    (NotificationKind, labels.NOTIFICATION_KINDS),
    (Level, labels.LEVELS),
    (Category, labels.CATEGORIES),
    (Source, labels.SOURCES),
    (MilestoneKey, labels.MILESTONES),
    (AuditAction, labels.AUDIT_ACTIONS),
    (Audience, labels.AUDIENCES),
    (ReportKind, labels.REPORT_KINDS),
    (ReportStatus, labels.REPORT_STATUSES),
]


@pytest.mark.parametrize(("codes", "catalog"), CATALOGS, ids=[c.__name__ for c, _ in CATALOGS])
def test_every_code_has_a_label_in_english_and_in_chinese(codes, catalog):
    assert set(catalog) == set(codes), "the catalog names exactly the codes there are"
    for code in codes:
        english = catalog[code]
        chinese = i18n.gettext("zh", english)
        assert english and chinese != english, f"{codes.__name__}.{code.name} has no Chinese name in the catalog"


def test_every_logged_delivery_outcome_has_a_label_in_chinese():
    logged = (DeliveryStatus.delivered, DeliveryStatus.accepted_unconfirmed, DeliveryStatus.failed,
              DeliveryStatus.no_channel)
    for status in logged:
        assert i18n.gettext("zh", labels.DELIVERY[status]) != labels.DELIVERY[status]


def test_the_codes_are_the_stored_strings():
    """Rows and recorded histories hold these strings: a code compares, hashes and serialises as its value."""
    assert EventKind.reminder_sent == "reminder_sent" and hash(Role.duty_officer) == hash("duty_officer")
    assert labels.EVENTS["escalated"] == labels.EVENTS[EventKind.escalated]
    assert json.dumps({EventKind.opened: [MilestoneState.met_late]}) == '{"opened": ["met_late"]}'
    assert f"{NotificationKind.channel_failure}" == "channel_failure"
    assert [e.name for e in EventKind] == [e.value for e in EventKind]


def test_an_incident_id_reads_back_from_its_workflow_id():
    human = ids.human_id(2026, 123)
    assert human == "YQ-2026-000123" and ids.HUMAN_ID.fullmatch(human)
    workflow_id = ids.workflow_id(human, "3fa9c1")
    assert workflow_id == "incident-YQ-2026-000123-3fa9c1"
    assert ids.human_id_of(workflow_id) == human


def test_rung_and_message_keys_read_back():
    rung = ids.rung_key("follow_up", 3, ids.repeat_rung(4))
    assert rung == "follow_up/g3/repeat-4" and ids.repeat_number(rung) == 4
    match = ids.RUNG_KEY.match(rung)
    assert (match["milestone"], match["generation"], match["rung"]) == ("follow_up", "3", "repeat-4")
    assert rung.startswith(ids.rung_prefix("follow_up", 3)) and not rung.startswith(ids.rung_prefix("follow_up", 30))
    assert not ids.RUNG_KEY.match(ids.channel_failure_key(rung)), "an alert is not a rung of the ladder"
    workflow_id = ids.workflow_id("YQ-2026-000001", "abcdef")
    dedupe = ids.dedupe_key(workflow_id, rung)
    assert ids.rung_key_of(workflow_id, dedupe) == rung == ids.rung_in(dedupe)
    assert ids.rung_key_of(ids.workflow_id("YQ-2026-000002", "abcdef"), dedupe) is None
    assert ids.attempt_key(dedupe, "ch1", 2) == f"{workflow_id}/follow_up/g3/repeat-4/ch1/2"


def test_timeline_event_keys_keep_their_shapes():
    """Existing rows and recorded histories hold keys of exactly these shapes."""
    wf = "incident-YQ-2026-000001-abcdef"
    assert ids.seq_event_key(wf, 1) == f"{wf}/1"
    assert ids.opened_event_key(wf) == f"{wf}/opened"
    assert ids.update_event_key(wf, "acknowledge-1") == f"{wf}/u/acknowledge-1"
    assert ids.rung_event_key(wf, "acknowledge/g1/breach") == f"{wf}/r/acknowledge/g1/breach"
    assert ids.recovered_event_key(wf, "acknowledge/g1/breach", 3) == f"{wf}/r/acknowledge/g1/breach/recovered-3"
    assert ids.cancelled_event_key(wf, "acknowledge/g1/breach") == f"{wf}/r/acknowledge/g1/breach/cancelled"


def test_an_action_retried_with_its_idempotency_key_is_the_same_update():
    one = ids.update_id("acknowledge", workflow_id="incident-x", user_id=7, idempotency_key="k")
    assert one == ids.update_id("acknowledge", workflow_id="incident-x", user_id=7, idempotency_key="k")
    assert one != ids.update_id("acknowledge", workflow_id="incident-x", user_id=8, idempotency_key="k")
    assert one.startswith("acknowledge-") and len(one) == len("acknowledge-") + 32


def test_the_search_attributes_registered_are_the_ones_the_workflow_sets():
    assert {key.name for key in ids.SEARCH_ATTRIBUTES} == set(SEARCH_ATTRIBUTES)
