"""A worker caching thousands of incidents holds one copy of their policy, not one per incident: every incident's
input decodes (as the worker decodes it, with Temporal's data converter) to the same Policy object when the
policy is the same, and to its own values when it is not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from temporalio.converter import DataConverter

from desk.messages import IncidentFacts, IncidentInput
from desk.policy import load_policy

CONVERTER = DataConverter.default.payload_converter


def decoded(n: int, policy) -> IncidentInput:
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    facts = IncidentFacts(incident_id=n, human_id=f"YQ-2026-{n:06d}", title="某小区燃气泄漏引发网络关注",
                          category="accident", level="III", party_code="bazhou", party_name="巴州区人民政府",
                          detected_at=now, opened_at=now, reporter="duty")
    payloads = CONVERTER.to_payloads([IncidentInput(facts=facts, policy=policy, opened_recorded=True)])
    return CONVERTER.from_payloads(payloads, [IncidentInput])[0]


def test_incidents_decoded_with_the_same_policy_share_one_policy_object():
    first, second = decoded(1, load_policy("bazhong")), decoded(2, load_policy("bazhong"))
    assert first.facts.human_id != second.facts.human_id
    assert first.policy is second.policy
    assert first.policy == load_policy("bazhong")


def test_an_incident_with_another_policy_keeps_its_own_values():
    bazhong = load_policy("bazhong")
    slower = replace(bazhong, escalation=replace(bazhong.escalation, repeat_every_seconds=3 * 3600))
    same, other = decoded(1, bazhong), decoded(2, slower)
    assert other.policy is not same.policy
    assert other.policy.escalation.repeat_every_seconds == 3 * 3600
    assert same.policy.escalation.repeat_every_seconds == 2 * 3600
