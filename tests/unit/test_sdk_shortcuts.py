"""The worker works out the type hints of a workflow's handlers and of the dataclasses it decodes once per process
(desk/sdk_shortcuts.py), not once per workflow instance, and skips the payload walks that would change nothing.
The answers must be the ones the SDK works out itself, one instance must never be handed a class that belongs to
another instance's copy of a workflow module, and a configured payload codec must still see every payload.

A workflow module is run afresh here as the worker's sandbox runs it for every instance: a new module object,
executing the one code object the worker shares (worker._SharedCodeLoader)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
import temporalio.bridge.worker as bridge_worker
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.converter import DataConverter, PayloadCodec

import workflows.incident
from desk import sdk_shortcuts
from desk.messages import ChannelResult, Delivered, IncidentFacts, IncidentInput, IncidentState
from desk.policy import load_policy
from tests.workflow.stubs import overdue_for
from worker import _SharedCodeLoader

CONVERTER = DataConverter.default.payload_converter


def afresh(name: str, path: str) -> ModuleType:
    """The module run again in a module object of its own, from the process's shared code object, under its name
    in `sys.modules` while it runs (the sandbox's own map; `sdk_alone` keeps the host's map apart)."""
    spec = importlib.util.spec_from_file_location(name, path, loader=_SharedCodeLoader(name, path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if before is None:
            del sys.modules[name]
        else:
            sys.modules[name] = before
    return module


def definition(cls: type) -> dict:
    """What the worker dispatches on: every handler's name, argument and result types, and its validator."""
    d = workflow._Definition.must_from_class(cls)
    handlers = {f"update {n}": (u.arg_types, u.ret_type, u.validator is not None) for n, u in d.updates.items()}
    handlers |= {f"signal {n}": (s.arg_types,) for n, s in d.signals.items()}
    handlers |= {f"query {n}": (q.arg_types, q.ret_type) for n, q in d.queries.items()}
    return {"run": (d.arg_types, d.ret_type), **handlers}


@pytest.fixture
def sdk_alone(monkeypatch):
    """The SDK's own functions until the test installs the memoised ones; those again after it (as the worker
    runs). The host's modules are a map of their own, as they are beside a sandbox."""
    sdk_shortcuts.uninstall()
    monkeypatch.setattr(sdk_shortcuts, "_HOST_MODULES", dict(sys.modules))
    yield
    monkeypatch.undo()
    sdk_shortcuts.uninstall()
    sdk_shortcuts.install()


def test_each_fresh_copy_of_the_incident_workflow_gets_the_definition_the_sdk_builds(sdk_alone):
    path = workflows.incident.__file__
    by_the_sdk = definition(afresh("workflows.incident", path).IncidentWorkflow)
    assert by_the_sdk["update acknowledge"][0] is not None and len(by_the_sdk) > 18

    assert sdk_shortcuts.install()
    first, second = afresh("workflows.incident", path), afresh("workflows.incident", path)
    assert first.IncidentWorkflow is not second.IncidentWorkflow
    assert definition(first.IncidentWorkflow) == by_the_sdk
    assert definition(second.IncidentWorkflow) == by_the_sdk
    assert sdk_shortcuts._func_hints and sdk_shortcuts._same_params  # the second copy was answered from what was kept


WORKFLOW_WITH_ITS_OWN_COMMAND = '''
from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow


@dataclass
class Ask:
    text: str


@workflow.defn
class Asks:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def ask(self, cmd: Ask) -> str:
        return cmd.text

    @ask.validator
    def _check(self, cmd: Ask) -> None:
        pass
'''


def test_a_command_class_of_the_workflows_own_module_is_each_copys_own(tmp_path: Path, sdk_alone):
    """In the sandbox a class defined in the workflow's module is a new class for every instance: an update's
    argument must be decoded into that instance's class, or its own isinstance checks would fail."""
    source = tmp_path / "asks_workflow.py"
    source.write_text(WORKFLOW_WITH_ITS_OWN_COMMAND, encoding="utf-8")
    assert sdk_shortcuts.install()
    host = afresh("asks_workflow", str(source))
    sdk_shortcuts._HOST_MODULES["asks_workflow"] = host  # the worker imports its workflow modules: the host's copy
    copies = [afresh("asks_workflow", str(source)) for _ in range(2)]
    for copy in copies:
        (arg,), ret, has_validator = definition(copy.Asks)["update ask"]
        assert arg is copy.Ask and arg is not host.Ask
        assert ret is str and has_validator


def decoded(inp: IncidentInput) -> IncidentInput:
    return CONVERTER.from_payloads(CONVERTER.to_payloads([inp]), [IncidentInput])[0]


def test_an_incident_decodes_the_same_with_the_kept_hints(sdk_alone):
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    facts = IncidentFacts(incident_id=7, human_id="YQ-2026-000007", title="某小区燃气泄漏引发网络关注",
                          category="accident", level="III", party_code="bazhou", party_name="巴州区人民政府",
                          detected_at=now, opened_at=now, reporter="duty")
    inp = IncidentInput(facts=facts, policy=load_policy("bazhong"), public_url="http://desk.test",
                        state=IncidentState(facts=facts, event_seq=3, written_seq=3))
    by_the_sdk = decoded(inp)
    assert sdk_shortcuts.install()
    assert decoded(inp) == decoded(inp) == by_the_sdk == inp
    assert IncidentFacts in sdk_shortcuts._class_hints


class Reverses(PayloadCodec):
    """A codec that changes every payload, so a walk that did not run shows."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data[::-1]) for p in payloads]


def an_activation(data: bytes) -> WorkflowActivation:
    act = WorkflowActivation(run_id="run-1")
    act.jobs.add().initialize_workflow.arguments.append(Payload(metadata={"encoding": b"json/plain"}, data=data))
    return act


async def test_activations_skip_the_payload_walks_only_without_a_codec():
    assert sdk_shortcuts.install()
    plain, coded = an_activation(b'"abc"'), an_activation(b'"abc"')
    await bridge_worker.decode_activation(plain, DataConverter.default, decode_headers=False,
                                          storage_concurrency_limit=1)
    await bridge_worker.decode_activation(coded, dataclasses.replace(DataConverter.default, payload_codec=Reverses()),
                                          decode_headers=False, storage_concurrency_limit=1)
    assert plain.jobs[0].initialize_workflow.arguments[0].data == b'"abc"'
    assert coded.jobs[0].initialize_workflow.arguments[0].data == b'"cba"'  # a configured codec still decodes


def test_commands_and_results_are_written_as_the_sdk_writes_them(sdk_alone):
    policy = load_policy("bazhong")
    messages = [overdue_for(policy, datetime(2026, 12, 1, 9, tzinfo=UTC), months=6),
                Delivered(matched=2, results=[ChannelResult(channel_id="bazhou", status="delivered"),
                                              ChannelResult(channel_id="city", status="failed", error="503")])]
    by_the_sdk = CONVERTER.to_payloads(messages)
    assert sdk_shortcuts.install()
    assert CONVERTER.to_payloads(messages) == by_the_sdk
    assert CONVERTER.from_payloads(by_the_sdk, [IncidentInput, Delivered]) == messages
