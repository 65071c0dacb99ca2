"""The action registry (desk.actions): which actions the incident page offers each role in each state, and
that the JSON API has one route per action, with the action's roles."""

from __future__ import annotations

import asyncio

import pytest

from desk.actions import ACTIONS, allowed_actions
from desk.models import Incident, User
from desk.service import LEAD, SUPPORTING
from desk.users import ADMIN, DUTY_OFFICER, RESPONDER, SUPERVISOR

FRESH = {"acknowledge": "pending", "first_release": "overdue"}
RELEASED = {"acknowledge": "met", "first_release": "met_late", "follow_up": "pending"}
ALL_DONE = {"acknowledge": "met", "first_release": "waived"}


@pytest.mark.parametrize("role, status, states, part, expected", [
    (DUTY_OFFICER, "open", FRESH, None, ["note", "link", "merge"]),
    (RESPONDER, "open", FRESH, LEAD, ["acknowledge", "release", "press_conference", "note", "task"]),
    (RESPONDER, "open", RELEASED, LEAD, ["release", "press_conference", "update", "note", "task"]),
    (RESPONDER, "closed", RELEASED, LEAD, ["note"]),
    # a supporting party: its own acknowledgement, notes, its tasks' results; releases stay with the lead
    (RESPONDER, "open", {**FRESH, "task-1": "overdue"}, SUPPORTING, ["acknowledge", "note", "task_done"]),
    (SUPERVISOR, "open", FRESH, None, ["acknowledge", "release", "press_conference", "note", "task", "support", "urge",
                                       "reassign", "level", "waive", "close", "link", "merge"]),
    (ADMIN, "open", ALL_DONE, None, ["release", "press_conference", "update", "note", "task", "support", "urge",
                                     "reassign", "level", "close", "link", "merge"]),
    (SUPERVISOR, "closed", ALL_DONE, None, ["note", "reopen", "link"]),
    (SUPERVISOR, "merged", ALL_DONE, None, ["note"]),  # closed as merged: no reopening, no link, no merge
])
def test_each_role_is_offered_the_actions_the_incident_allows_now(role, status, states, part, expected):
    merged = status == "merged"
    incident = Incident(human_id="YQ-2026-000001", workflow_id="w", title="t", source="web", category="accident",
                        level="III", party_code="bazhou", status="closed" if merged else status,
                        merged_into="YQ-2026-000002" if merged else None)
    assert allowed_actions(User(username="u", password_hash="", role=role), incident, states, part) == expected


def test_the_api_has_one_route_per_action_with_its_roles(desk_app_routes):
    for action in ACTIONS.values():
        route = desk_app_routes[f"/api/incidents/{{human_id}}/{action.path}"]
        assert route.summary == action.summary and route.methods == {"POST"}
        checks = [d.dependency for d in route.dependencies]
        assert len(checks) == 1
        for role in (DUTY_OFFICER, RESPONDER, SUPERVISOR, ADMIN):
            user = User(username="u", password_hash="", role=role)
            if role in action.roles:  # the check is a coroutine (no thread-pool hand-over: api/deps.py)
                assert asyncio.run(checks[0](user)) is user
            else:
                with pytest.raises(Exception, match="无权"):
                    asyncio.run(checks[0](user))


@pytest.fixture
def desk_app_routes():
    from api.routes.incidents import router

    return {route.path: route for route in router.routes}
