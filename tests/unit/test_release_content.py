"""A release tells the facts, the measures and the outcome so far; a template may only name placeholders that
exist, and a saved template is filled with the incident's facts when the form offers it."""

from __future__ import annotations

import pytest

from desk.release_content import TemplateError, check_template, coverage, fill


def test_a_template_naming_a_placeholder_that_does_not_exist_is_refused_naming_it():
    check_template({"facts": "{detected_at}，{title}。", "measures": "{party}已处置。", "progress": ""})
    with pytest.raises(TemplateError) as refused:
        check_template({"facts": "{title}", "measures": "{party}于{deadline}前完成整改", "progress": ""})
    assert refused.value.part == "measures" and refused.value.params == {"placeholder": "deadline"}
    assert "{deadline}" in str(refused.value) and "措施" in str(refused.value)
    assert "{deadline}" in refused.value.message_en
    for stray in ("{title", "title}", "{0}", "{title.upper}"):
        with pytest.raises(TemplateError):
            check_template({"facts": stray})


def test_filling_puts_the_incidents_values_in_and_keeps_literal_braces():
    assert fill("{title}（{{原文}}）", {"title": "山体滑坡"}) == "山体滑坡（{原文}）"


def test_a_release_covers_a_part_only_when_it_says_something_in_it():
    assert coverage({"facts": "经核实", "measures": "已处置", "progress": "已恢复"}).complete
    partial = coverage({"facts": "经核实", "measures": "  ", "summary": "情况通报"})
    assert not partial.complete and partial.missing == ["measures", "progress"]
    assert coverage({}).missing == ["facts", "measures", "progress"]  # a release from before the three parts
