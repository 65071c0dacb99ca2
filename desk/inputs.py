"""What a person gives for each human action on an incident (desk.actions names them), validated before it
reaches the workflow: the levels and milestones by code, texts without NUL, times as aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from desk import ids
from desk.clocks import CLOCK_SKEW
from desk.timefmt import SHANGHAI
from desk.vocab import Level, MilestoneKey

TASK_DUE_PAST = "完成时限必须晚于当前时间"
_OWN_CLOCK = re.compile(r"^(support|task)-[1-9][0-9]{0,5}$")  # a supporting party's or a task's clock


def as_utc(value: datetime) -> datetime:
    """A time without a zone is read as Beijing time (what a duty officer types); stored as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 at the edge of a zone: a ValueError is a 422, not a 500
        raise ValueError("时间超出可处理的范围") from None


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$", re.UNICODE)
BAD_LINK = "链接须以 http:// 或 https:// 开头，或直接填写网址（如 www.bazhong.gov.cn/…）"


def web_link(value: str) -> str:
    """A link as people type it: ``www.bazhong.gov.cn/x`` gets ``https://``; any scheme but http(s) is
    refused (a ``javascript:`` link must never reach a page)."""
    value = value.strip()
    if not value or value.lower().startswith(("http://", "https://")):
        return value
    if not _SCHEME.match(value.split("/", 1)[0] + "/") and _HOST.match(value):
        return "https://" + value
    raise ValueError(BAD_LINK)


def not_in_future(value: datetime, message: str) -> datetime:
    """A time a person says has happened: as aware UTC, not later than now (a phone a little fast is fine)."""
    value = as_utc(value)
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError(message)
    return value


def required_text(value: str, message: str) -> str:
    """A text that must say something once trimmed."""
    value = clean_text(value)
    if not value:
        raise ValueError(message)
    return value


def clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含空字符（NUL）")
    return value.strip()


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcknowledgeIn(_Action):
    note: str = Field(default="", max_length=5000)


class ReleaseIn(_Action):
    released_at: datetime | None = Field(default=None, description="发布时间; 默认当前时间")
    channel: str = Field(default="", max_length=200, description="发布渠道, e.g. 政府网站、政务微博")
    url: str = Field(default="", max_length=2000)
    summary: str = Field(default="", max_length=5000)
    # What the release said, in the three parts the rules ask for (desk/release_content.py)
    facts: str = Field(default="", max_length=5000, description="事实: what happened")
    measures: str = Field(default="", max_length=5000, description="措施: what is being done")
    progress: str = Field(default="", max_length=5000, description="结果/进展: the outcome so far")

    @field_validator("channel", "url", "summary", "facts", "measures", "progress")
    @classmethod
    def _text(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("url")
    @classmethod
    def _link(cls, value: str) -> str:
        return web_link(value)

    @field_validator("released_at")
    @classmethod
    def _when(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return not_in_future(value, "发布时间不能晚于当前时间")


class UrgeIn(_Action):
    text: str = Field(min_length=1, max_length=1000, description="督办意见：写明要求和期限")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return required_text(value, "请填写督办意见")


class NoteIn(_Action):
    text: str = Field(min_length=1, max_length=5000)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return required_text(value, "请填写备注内容")


class _Reasoned(_Action):
    reason: str = Field(min_length=1, max_length=5000)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return required_text(value, "请填写理由")


class ReassignIn(_Reasoned):
    party: str = Field(max_length=64)


class LevelIn(_Reasoned):
    level: Level


class WaiveIn(_Reasoned):
    milestone: str = Field(max_length=32, description="时限: acknowledge, first_release, press_conference, "
                           "follow_up, or a supporting party's or task's clock (support-1, task-2)")

    @field_validator("milestone")
    @classmethod
    def _milestone(cls, value: str) -> str:
        if value in MilestoneKey.__members__.values() or _OWN_CLOCK.match(value):
            return value
        raise ValueError("请选择要豁免的时限")


class SupportIn(_Action):
    party: str = Field(max_length=64, description="配合单位代码")


class TaskIn(_Action):
    party: str = Field(max_length=64, description="交办给哪个单位（牵头单位或配合单位）")
    text: str = Field(min_length=1, max_length=2000, description="督办事项：要办的事")
    due_at: datetime = Field(description="完成时限；不带时区按北京时间；须晚于当前时间")
    needs_attachment: bool = Field(default=False, description="须附文件作为办理结果")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return required_text(value, "请填写督办事项的内容")

    @field_validator("due_at")
    @classmethod
    def _due(cls, value: datetime) -> datetime:
        value = as_utc(value)
        if value <= datetime.now(UTC):
            raise ValueError(TASK_DUE_PAST)
        return value


class TaskDoneIn(_Action):
    task: int = Field(ge=1, le=100000, description="督办事项编号（1, 2, …）")
    note: str = Field(default="", max_length=5000, description="办理结果")
    # The seam to attachments (SPEC §9): the sha256 of a file attached to this incident.
    attachment: str = Field(default="", max_length=64, description="附件的 sha256（须已上传到本事件）")

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("attachment")
    @classmethod
    def _attachment(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not ids.SHA256.match(value):
            raise ValueError("附件须以其 sha256（64 位十六进制）指明")
        return value



class CloseIn(_Action):
    reason: str = Field(default="", max_length=5000)


class ReopenIn(_Reasoned):
    pass


class WithdrawIn(_Reasoned):
    """Withdrawing an attachment: why (kept in the timeline; the file stays listed)."""


_HUMAN_ID = r"^\s*[A-Za-z]{2}-\d{4}-\d{1,12}\s*$"


class LinkIn(_Action):
    other: str = Field(max_length=40, pattern=_HUMAN_ID, description="the related incident, e.g. YQ-2026-000123")
    reason: str = Field(default="", max_length=5000)

    @field_validator("other")
    @classmethod
    def _other(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_text(value)


class MergeIn(_Action):
    into: str = Field(max_length=40, pattern=_HUMAN_ID, description="the incident that stays, e.g. YQ-2026-000123")
    reason: str = Field(default="", max_length=5000)

    @field_validator("into")
    @classmethod
    def _into(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_text(value)
