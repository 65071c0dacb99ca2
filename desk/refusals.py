"""Why the workflow refuses a human action: one code per rule of its validators.

The workflow raises ``ApplicationError(sentence, details(code, **params), type=INVALID|CONFLICT)``: the
Chinese sentence stays the JSON API's ``detail``; the code and its params travel in the error's details,
so desk.service can hand them on (desk.errors) and the pages can say them in the viewer's language
(api.web.labels.ERROR_MESSAGES). Deterministic: imported by the workflow, so no I/O and no SQLModel here.
Validator refusals never enter a history, so codes may be added; a code, once used, keeps its meaning.
"""

from __future__ import annotations

from typing import Any

INCIDENT_CLOSED = "incident.closed"  # the incident is closed: reopen it first
NOT_CLOSED = "reopen.not_closed"  # reopening an incident that is open
ALREADY_ACKNOWLEDGED = "acknowledge.already_done"
RELEASE_KIND_UNKNOWN = "release.unknown_kind"  # params: kind
RELEASE_TIME_WITHOUT_ZONE = "release.time_without_zone"
RELEASE_BEFORE_DETECTED = "release.before_detected"  # also the service's own pre-check (desk.service)
RELEASE_IN_FUTURE = "release.in_future"
FIRST_RELEASE_MISSING = "release.first_missing"  # a follow-up release before the first release
NOTE_EMPTY = "note.empty"
URGE_EMPTY = "urge.empty"
URGE_UNSUPPORTED = "urge.unsupported"  # a run from before the durable design
SAME_PARTY = "reassign.same_party"  # params: party
LEVEL_UNKNOWN = "level.unknown"  # params: level
SAME_LEVEL = "level.unchanged"  # params: level
MILESTONE_UNKNOWN = "waive.unknown_milestone"  # params: milestone
MILESTONE_NOT_OPEN = "waive.not_open"  # params: milestone (its key), label (the policy's name for it)
CLOSE_BLOCKED = "close.blocked"  # params: milestones ({key: the policy's name}, in deadline order)
REASON_MISSING = "reason.missing"
REASON_TOO_LONG = "reason.too_long"  # params: max
TEXT_TOO_LONG = "text.too_long"  # params: field, max
# the shift handover (workflows/handover.py)
HANDOVER_CONFIRMED = "handover.already_confirmed"
HANDOVER_NOT_INCOMING = "handover.not_incoming"  # params: incoming (the person's name)


def details(code: str, **params: Any) -> dict[str, Any]:
    """The ApplicationError detail that carries a refusal's code; params are plain JSON values."""
    return {"code": code, "params": params}


def code_of(error_details: Any) -> tuple[str, dict[str, Any]] | None:
    """(code, params) from an ApplicationError's details, or None (a run from before codes, or another error)."""
    for item in error_details or ():
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            params = item.get("params")
            return item["code"], dict(params) if isinstance(params, dict) else {}
    return None
