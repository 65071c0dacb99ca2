"""What an authoritative release must say (讲清事实真相、政策措施及处置结果): three parts, the placeholders a
release template may use, and the one rule for "this release covered all three".

Core: the standard library only. The templates themselves are data (desk/release_templates.py keeps them).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

# The three parts, in the order a release tells them.
PARTS = ("facts", "measures", "progress")
PART_LABELS = {"facts": "事实", "measures": "措施", "progress": "结果/进展"}
PART_LABELS_EN = {"facts": "Facts", "measures": "Measures", "progress": "Outcome / progress"}

# What a template may say in braces, filled from the incident when the form offers it.
PLACEHOLDERS = ("title", "party", "detected_at", "category", "level", "incident_id")


class TemplateError(ValueError):
    """A template that cannot be saved: which part, which placeholder, said in a sentence."""

    def __init__(self, part: str, message: str, message_en: str, **params: str) -> None:
        super().__init__(message)
        self.part = part
        self.message_en = message_en
        self.params = params


def placeholders_in(text: str) -> list[str]:
    """The names a template text uses in braces, in order (``{{`` and ``}}`` are literal braces)."""
    try:
        return [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise TemplateError("", f"模板中的花括号不成对：{exc}", f"Unbalanced braces in the template: {exc}") from exc


def check_template(parts: Mapping[str, str]) -> None:
    """Refuse a template that names a placeholder that does not exist (naming it), or has stray braces."""
    for part in PARTS:
        text = parts.get(part, "")
        try:
            names = placeholders_in(text)
        except TemplateError as exc:
            raise TemplateError(part, f"{PART_LABELS[part]}：{exc}", f"{PART_LABELS_EN[part]}: {exc.message_en}") \
                from exc
        for name in names:
            if name not in PLACEHOLDERS:
                known = "、".join("{" + p + "}" for p in PLACEHOLDERS)
                raise TemplateError(part, f"{PART_LABELS[part]}模板中的占位符 {{{name}}} 不存在；可用的有：{known}。",
                                    f"{PART_LABELS_EN[part]}: the placeholder {{{name}}} does not exist; "
                                    f"use one of {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.",
                                    placeholder=name)


def fill(text: str, values: Mapping[str, str]) -> str:
    """A template part with the incident's values in place (a saved template only names known placeholders)."""
    return text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


@dataclass(frozen=True)
class Coverage:
    """Which of the three parts a release said something in."""

    facts: bool
    measures: bool
    progress: bool

    @property
    def complete(self) -> bool:
        return self.facts and self.measures and self.progress

    @property
    def missing(self) -> list[str]:
        return [p for p in PARTS if not getattr(self, p)]


def coverage(payload: Mapping[str, object]) -> Coverage:
    """A part is covered when the release says something in it (the one rule: the assessment's completeness
    figure, the review report and the timeline all use it)."""
    return Coverage(*(bool(str(payload.get(p) or "").strip()) for p in PARTS))
