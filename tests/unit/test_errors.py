"""The incident service's refusals (desk.errors) as the JSON API and the pages show them."""

from __future__ import annotations

import pytest

from api.errors import body_of, status_of
from api.web import i18n, labels
from api.web.views import desk_error_messages
from desk import refusals
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
    # a workflow validator's refusal: by its code (desk.refusals), in English on an English page
    assert desk_error_messages(Conflict("该事件已签收，无需重复签收。", code=refusals.ALREADY_ACKNOWLEDGED), _("en")) == {
        "form": "This incident has already been acknowledged."}
    # from a worker before codes: the workflow's own sentence, as it wrote it
    assert desk_error_messages(Conflict("该事件已签收，无需重复签收。", code="workflow.conflict"), _("en")) == {
        "form": "该事件已签收，无需重复签收。"}


def test_a_refusal_with_values_in_it_is_said_in_english_on_an_english_page():
    """Closing with open milestones: the sentence names them, so no fixed Chinese text could ever match it."""
    blocked = Conflict("不能结案：责任单位签收、发布权威信息尚未完成，请先完成或经批准豁免（须写明理由）。",
                       code=refusals.CLOSE_BLOCKED,
                       params={"milestones": {"acknowledge": "责任单位签收", "first_release": "发布权威信息"}})
    assert desk_error_messages(blocked, _("en")) == {"form": (
        "Cannot close: Acknowledgement by the responsible party, Authoritative information released not done yet. "
        "Meet them first, or waive them with approval (a reason is required).")}
    assert desk_error_messages(blocked, _("zh")) == {"form": blocked.message}  # Chinese: the workflow's own sentence
    waived = Conflict("“举行新闻发布会”已完成或已豁免。", code=refusals.MILESTONE_NOT_OPEN,
                      params={"milestone": "press_conference", "label": "举行新闻发布会"})
    assert desk_error_messages(waived, _("en")) == {"form": "“Press conference held” is already met or waived."}
    assert desk_error_messages(waived, _("zh")) == {"form": waived.message}
    custom = Conflict("“专家解读”已完成或已豁免。", code=refusals.MILESTONE_NOT_OPEN,
                      params={"milestone": "expert_reading", "label": "专家解读"})  # a policy's own milestone
    assert desk_error_messages(custom, _("en")) == {"form": "“专家解读” is already met or waived."}
    too_long = InvalidInput("理由不能超过 5000 字。", code=refusals.REASON_TOO_LONG, params={"max": 5000})
    assert desk_error_messages(too_long, _("en")) == {"form": "The reason is too long: at most 5000 characters."}
    assert desk_error_messages(too_long, _("zh")) == {"form": too_long.message}


def test_every_refusal_code_of_the_workflow_has_its_sentence_in_the_catalog():
    codes = {value for name, value in vars(refusals).items() if name.isupper() and isinstance(value, str)}
    assert len(codes) >= 15
    assert sorted(codes - set(labels.ERROR_MESSAGES)) == []
    for code in codes:  # every one has its Chinese
        assert i18n.gettext("zh", labels.ERROR_MESSAGES[code]) != labels.ERROR_MESSAGES[code]


def test_a_refusal_code_travels_in_the_errors_details():
    assert refusals.code_of([refusals.details(refusals.SAME_LEVEL, level="II")]) == ("level.unchanged", {"level": "II"})
    assert refusals.code_of(()) is None and refusals.code_of(["an old run's detail"]) is None


def test_an_empty_label_translates_to_nothing_not_the_catalogs_header():
    """A page shows ``_(labels.X.get(code, code))``; for an empty code that was gettext(""), which in Chinese is the
    catalog's header: "不再补发：Project-Id-Version: opinion-desk …" on a timeline row."""
    from api.web import i18n

    assert i18n.gettext("zh", "") == "" and i18n.gettext("en", "") == ""
    assert i18n.gettext("zh", "Reason")  # a real message still translates
