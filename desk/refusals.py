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
LINK_SELF = "link.self"  # linking an incident to itself
LINK_ALREADY = "link.already"  # params: other
MERGE_SELF = "merge.self"  # merging an incident into itself
MERGED_ALREADY = "merge.merged"  # params: into (the incident it was merged into); no reopening, no other action
OLD_RUN = "workflow.old_run"  # a run from before the durable design cannot take this action
SUPPORT_IS_LEAD = "support.is_lead"  # params: party
SUPPORT_ALREADY = "support.already"  # params: party
SHARED_UNSUPPORTED = "shared.unsupported"  # supporting parties and tasks: a run from before the durable design
TASK_EMPTY = "task.empty"
TASK_DUE_PAST = "task.due_in_past"
TASK_PARTY_UNKNOWN = "task.party_not_involved"  # params: party (neither the lead nor a supporting party)
TASK_NOT_LEAD = "task.not_lead"  # a supporting party tried to assign a task
TASK_UNKNOWN = "task.unknown"  # params: task
TASK_NOT_OPEN = "task.not_open"  # params: task
TASK_NOT_YOURS = "task.not_yours"  # params: task
TASK_RESULT_MISSING = "task.result_missing"  # neither a note nor a file
TASK_FILE_REQUIRED = "task.file_required"  # params: task
REASON_MISSING = "reason.missing"
REASON_TOO_LONG = "reason.too_long"  # params: max
TEXT_TOO_LONG = "text.too_long"  # params: field, max
ATTACHMENT_UNSUPPORTED = "attachment.unsupported"  # a run from before the durable design
ATTACHMENT_NONE = "attachment.none"  # an upload without a file
ATTACHMENT_WITHDRAWN = "attachment.already_withdrawn"  # params: name
# the shift handover (workflows/handover.py)
HANDOVER_CONFIRMED = "handover.already_confirmed"
HANDOVER_NOT_INCOMING = "handover.not_incoming"  # params: incoming (the person's name)


# The form field a refusal is about, so a page shows it next to that field (others go on top of the form).
FIELD_OF = {SUPPORT_IS_LEAD: "party", SUPPORT_ALREADY: "party", TASK_PARTY_UNKNOWN: "party", TASK_EMPTY: "text",
            TASK_DUE_PAST: "due_at", TASK_RESULT_MISSING: "note", TASK_FILE_REQUIRED: "attachment",
            TASK_UNKNOWN: "task", TASK_NOT_OPEN: "task", TASK_NOT_YOURS: "task"}


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
