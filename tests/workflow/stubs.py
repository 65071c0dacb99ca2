"""Stub activities for IncidentWorkflow on the time-skipping server: the rules alone, no SQL or HTTP.

Registered under the real activities' names (`deliver`, `record_batch`), so the workflow calls them as it
calls the real ones.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import activity

from desk import clocks as clk
from desk.messages import ChannelResult, Deliver, Delivered, IncidentFacts, IncidentInput, IncidentState, RecordBatch

H = timedelta(hours=1)


@activity.defn(name="deliver")
async def deliver_to_every_channel(d: Deliver) -> Delivered:
    return Delivered(matched=len(d.tags), results=[ChannelResult(channel_id=t, status="delivered") for t in d.tags])


@activity.defn(name="record_batch")
async def record_nothing(_b: RecordBatch) -> None:
    return None


def overdue_for(policy, now, months: int, **fact_fields) -> IncidentInput:
    """An incident whose release deadline passed ``months`` ago, every repeat since sent (continued state)."""
    detected = now - timedelta(days=30 * months) - 48 * H
    fields = dict(incident_id=1, human_id="YQ-2026-000001", title="历史遗留舆情", category="public_opinion",
                  level="IV", party_code="bazhou", party_name="巴州区人民政府", reporter="duty")
    fields.update(fact_fields)
    facts = IncidentFacts(detected_at=detected, opened_at=detected, **fields)
    release = next(c for c in clk.open_clocks(policy, "IV", detected, detected) if c.key == "first_release")
    step = timedelta(seconds=policy.escalation.repeat_every_seconds)
    sent = (now - release.due_at) // step
    earlier = [r.key for r in clk.ladder(release, policy, "bazhou", release.due_at)]  # reminders and breach
    release = replace(release, state=clk.OVERDUE, sent_rungs=earlier, repeats_sent=sent)
    state = IncidentState(facts=facts, clocks=[release], event_seq=sent + 2, written_seq=sent + 2)
    return IncidentInput(facts=facts, policy=policy, public_url="http://desk.test", state=state)
