"""The incident service's refusals (desk.errors) as the JSON API and the pages show them."""

from __future__ import annotations

import pytest

from api.errors import body_of, status_of
from api.web import i18n
from api.web.views import desk_error_messages
from desk.errors import Conflict, EngineUnavailable, Forbidden, InvalidInput, incident_not_found, unknown_party
from desk.service import WORKFLOW_ENDED


def _(lang: str):
    return lambda message, **values: i18n.gettext(lang, message, **values)


@pytest.mark.parametrize("error, status", [
    (incident_not_found("YQ-2026-000009"), 404),
    (Forbidden("您的角色无权执行此操作。"), 403),
    (unknown_party("nowhere"), 422),
    (InvalidInput("备注内容不能为空。", code="workflow.invalid"), 422),
    (Conflict("该事件已签收，无需重复签收。", code="workflow.conflict"), 409),
    (EngineUnavailable(), 503),
])
def test_each_kind_of_refusal_has_its_http_status(error, status):
    assert status_of(error) == status


def test_a_refused_field_keeps_the_request_validation_shape_and_a_refusal_keeps_its_sentence():
    assert body_of(unknown_party("nowhere")) == {
        "detail": [{"loc": ["body", "party"], "field": "party", "msg": "未知的责任单位代码：nowhere", "type": "value_error"}],
        "code": "party.unknown"}
    assert body_of(incident_not_found("YQ-2026-000009")) == {
        "detail": "没有编号为 YQ-2026-000009 的舆情事件。", "code": "incident.not_found"}


def test_the_pages_say_a_refusal_in_the_viewers_language_from_its_code():
    ended = Conflict(WORKFLOW_ENDED, code="workflow.ended")
    assert desk_error_messages(ended, _("zh")) == {"form": WORKFLOW_ENDED}
    assert "cannot be changed" in desk_error_messages(ended, _("en"))["form"]
    assert desk_error_messages(incident_not_found("YQ-2026-000009"), _("en")) == {
        "form": "There is no incident numbered YQ-2026-000009."}
    assert desk_error_messages(unknown_party("nowhere"), _("zh")) == {"party": "请从列表中选择责任单位。"}
    assert desk_error_messages(EngineUnavailable(), _("en"))["form"].startswith("The workflow engine cannot be reached")
    # a workflow validator's sentence: shown as the workflow wrote it, in English when the catalog knows it
    assert desk_error_messages(Conflict("该事件已签收，无需重复签收。", code="workflow.conflict"), _("en")) == {
        "form": "This incident has already been acknowledged."}
