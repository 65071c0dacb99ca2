"""Connecting to Temporal: the embedded dev server, a self-hosted cluster, or Temporal Cloud."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, TLSConfig, WorkflowHistory
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from desk import sdk_shortcuts
from desk.settings import Settings

log = logging.getLogger("desk.temporal")

# Registered on the dev server by `opinion-desk up`, and by the worker where it is allowed to: the keys of
# desk.ids.SEARCH_ATTRIBUTES, spelt out (docker-compose's temporal-setup creates the same, and its test reads this).
SEARCH_ATTRIBUTES = {"DeskParty": "Keyword", "DeskLevel": "Keyword"}


def metrics_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A Temporal runtime whose SDK metrics (workflow/activity task latency, slots, polls...) are
    served to Prometheus at http://HOST:PORT/metrics. One per process."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}")))


async def connect(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert or settings.temporal_tls_ca:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
            client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
            server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
        )
    elif settings.temporal_api_key:
        tls = True  # Temporal Cloud with an API key always uses TLS
    sdk_shortcuts.install()  # the SDK's repeated work on every command and result, done once per process
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key,
        lazy=lazy,
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client) -> None:
    """Add the desk's search attributes if missing (self-hosted servers; Cloud manages its own)."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {k: v for k, v in SEARCH_ATTRIBUTES.items() if k not in existing.custom_attributes}
        if missing:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={k: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{v.upper()}") for k, v in missing.items()},
            ))
    except Exception as exc:  # no operator permission (Temporal Cloud): they must be added by an admin
        log.warning("could not check the search attributes %s: %s", ", ".join(SEARCH_ATTRIBUTES), exc)


async def run_chain(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, newest first: the latest run, then each run it continued from. An incident
    continues as new every hundred events or so, so one run's history is not its whole life."""
    chain = [await client.get_workflow_handle(workflow_id).fetch_history()]
    while run_id := chain[-1].events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
        chain.append(await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history())
    return chain
