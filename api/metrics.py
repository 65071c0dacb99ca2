"""GET /metrics for Prometheus: the desk's figures, read from SQL at scrape time, and API latency.

The desk's figures (incidents opened, milestones by state, notification attempts by status) are
counted in the database when Prometheus scrapes, not in this process: workers and every web replica
write to the same database, so any replica answers with the whole desk's numbers, and a restart
loses nothing. With N replicas behind a load balancer, aggregate them with ``max``, not ``sum``.
Request latency is per process (label ``route`` is the route template, so ids never blow up the
series count).

The figures name parties with open and overdue incidents: only Prometheus may read them, with the bearer
token DESK_METRICS_TOKEN. Without one configured, /metrics does not exist (404); a user's login token is
not the metrics token (403).
"""

from __future__ import annotations

import hmac
import logging
import time

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from desk.db import session_scope
from desk.models import Incident, Milestone, NotificationAttempt

log = logging.getLogger("desk.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _drill(value: bool) -> str:
    return "true" if value else "false"


class DeskCollector(Collector):
    """The desk's own figures, one group-by query per family."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self):
        up = GaugeMetricFamily("desk_database_up", "1 if the desk's database answered this scrape")
        try:
            families = self._families()
        except Exception as exc:  # a scrape must still answer, and say the database is down
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list:
        with session_scope(self.database_url) as session:
            opened = session.exec(
                select(Incident.level, Incident.party_code, Incident.drill, func.count())
                .group_by(Incident.level, Incident.party_code, col(Incident.drill))
            ).all()
            open_now = session.exec(
                select(Incident.level, Incident.party_code, Incident.overdue, func.count())
                .where(Incident.status == "open", col(Incident.drill).is_(False))
                .group_by(Incident.level, Incident.party_code, col(Incident.overdue))
            ).all()
            milestones = session.exec(
                select(Milestone.key, Milestone.state, Incident.drill, func.count())
                .join(Incident, col(Incident.id) == Milestone.incident_id)
                .group_by(Milestone.key, Milestone.state, col(Incident.drill))
            ).all()
            attempts = session.exec(
                select(NotificationAttempt.status, NotificationAttempt.kind, func.count())
                .group_by(NotificationAttempt.status, NotificationAttempt.kind)
            ).all()

        incidents = CounterMetricFamily(
            "desk_incidents_opened", "Incidents opened, by level and first responsible party (drills labelled)",
            labels=["level", "party", "drill"])
        for level, party, drill, n in opened:
            incidents.add_metric([level, party, _drill(drill)], n)
        current = GaugeMetricFamily(
            "desk_incidents_open", "Incidents open now (drills excluded), by level, party and whether overdue",
            labels=["level", "party", "overdue"])
        for level, party, overdue, n in open_now:
            current.add_metric([level, party, _drill(overdue)], n)
        clocks = GaugeMetricFamily(
            "desk_milestones", "Milestones by state: pending, met, met_late, overdue, waived",
            labels=["milestone", "state", "drill"])
        for key, state, drill, n in milestones:
            clocks.add_metric([key, state, _drill(drill)], n)
        sent = CounterMetricFamily(
            "desk_notification_attempts", "Notification attempts per channel, by status and rung kind",
            labels=["status", "kind"])
        for status, kind, n in attempts:
            sent.add_metric([status, kind], n)
        return [incidents, current, clocks, sent]


class LatencyMiddleware:
    """Times every HTTP request (pure ASGI, so streaming responses are timed to their end)."""

    def __init__(self, app, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope["method"], template, str(status["code"])).observe(
                time.perf_counter() - start)


def install_metrics(app: FastAPI, database_url: str) -> None:
    """GET /metrics and the latency middleware, on a registry of this app's own."""
    registry = CollectorRegistry()
    registry.register(DeskCollector(database_url))
    ProcessCollector(registry=registry)
    latency = Histogram(
        "desk_http_request_duration_seconds", "API and page request latency", ["method", "route", "status"],
        buckets=LATENCY_BUCKETS, registry=registry)
    app.add_middleware(LatencyMiddleware, histogram=latency)
    app.state.metrics_registry = registry

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics (bearer DESK_METRICS_TOKEN)",
             response_class=Response)
    def metrics(request: Request) -> Response:
        check_metrics_token(request)
        return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)


def check_metrics_token(request: Request) -> None:
    expected = request.app.state.settings.resolved_metrics_token()
    if expected is None:
        raise HTTPException(404, "指标接口未启用：设置 DESK_METRICS_TOKEN 后，Prometheus 可凭该令牌读取 /metrics。")
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if not sent:
        raise HTTPException(401, "读取指标需要指标令牌（Authorization: Bearer DESK_METRICS_TOKEN）。",
                            headers={"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise HTTPException(403, "指标令牌不正确：/metrics 只接受 DESK_METRICS_TOKEN，不接受用户登录令牌。")
