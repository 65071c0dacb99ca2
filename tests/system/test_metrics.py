"""GET /metrics shows the desk's real figures after a real scenario (worker, dev server, receiver)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from desk.logs import JsonFormatter
from desk.models import NotificationAttempt
from tests.helpers import METRICS_AUTH, eventually


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_after_a_scenario(desk):
    from desk.db import session_scope

    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    # Level I for 巴州区, detected two hours ago: acknowledgement (1 h) is already overdue -> breach rung.
    late = await desk.open(level="I", category="natural_disaster", party="bazhou",
                           detected_at=two_hours_ago.isoformat())
    assert late.status_code == 201, late.text
    ontime = await desk.open(level="III", party="enyang")
    assert ontime.status_code == 201, ontime.text
    r = await desk.http.post(f"/api/incidents/{ontime.json()['id']}/acknowledge", json={"note": "已收到"},
                             headers=desk.auth("enyang"))
    assert r.status_code == 200, r.text

    def breach_sent():
        with session_scope(desk.database_url) as s:
            rows = s.exec(select(NotificationAttempt).where(NotificationAttempt.kind == "breach")).all()
        return len(rows) == 3 and all(row.status == "delivered" for row in rows)

    async def breach_recorded():
        got = await desk.http.get(f"/api/incidents/{late.json()['id']}", headers=desk.auth("duty"))
        return any(ms["key"] == "acknowledge" and ms["state"] == "overdue" for ms in got.json()["milestones"])

    await eventually(breach_sent, timeout=60)
    await eventually(breach_recorded, timeout=30)
    await eventually(lambda: len(desk.receiver.tagged("supervisor")) == 1, timeout=30)

    r = await desk.http.get("/metrics", headers=METRICS_AUTH)  # as Prometheus reads it
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    m = _samples(r.text)

    assert _value(m, "desk_database_up") == 1
    assert _value(m, "desk_incidents_opened_total", level="I", party="bazhou", drill="false") == 1
    assert _value(m, "desk_incidents_opened_total", level="III", party="enyang", drill="false") == 1
    assert _value(m, "desk_incidents_open", level="I", party="bazhou", overdue="true") == 1
    assert _value(m, "desk_milestones", milestone="acknowledge", state="overdue", drill="false") == 1
    assert _value(m, "desk_milestones", milestone="acknowledge", state="met", drill="false") == 1
    assert _value(m, "desk_milestones", milestone="press_conference", state="pending", drill="false") == 1
    assert _value(m, "desk_notification_attempts_total", status="delivered", kind="breach") == 3
    assert _value(m, "desk_http_request_duration_seconds_count",
                  method="POST", route="/api/incidents", status="201") == 2
    assert _value(m, "desk_http_request_duration_seconds_count",
                  method="POST", route="/api/incidents/{human_id}/acknowledge", status="200") == 1
    assert not any(dict(labels).get("route", "").startswith("/api/incidents/YQ-") for _, labels in m), \
        "incident ids must not become label values"


async def test_log_lines_about_an_incident_carry_its_id(desk, caplog):
    caplog.set_level(logging.INFO)
    r = await desk.open(level="I", category="natural_disaster",
                        detected_at=(datetime.now(UTC) - timedelta(hours=2)).isoformat())
    human_id = r.json()["id"]
    await eventually(lambda: len(desk.receiver.tagged("supervisor")) == 1, timeout=60)
    await eventually(lambda: any(rec.name == "desk.notify" for rec in caplog.records), timeout=30)

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(rec)) for rec in caplog.records if rec.name.startswith("desk.")]
    about = [line for line in lines if human_id in json.dumps(line, ensure_ascii=False)]
    assert {"desk.api", "desk.records", "desk.notify"} <= {line["logger"] for line in about}
    assert all(line.get("incident") == human_id for line in about), about
