"""Request and response bodies of the JSON API. Codes stay ASCII; labels live in the catalog."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from desk.timefmt import SHANGHAI
from desk.vocab import UNGRADED_CATEGORIES, Category, Level, MilestoneKey, Source

CLOCK_SKEW = timedelta(minutes=2)


def as_utc(value: datetime) -> datetime:
    """A time without a zone is read as Beijing time (what a duty officer types); stored as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # year 1 or 9999 at the edge of a zone: a ValueError is a 422, not a 500
        raise ValueError("时间超出可处理的范围") from None


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含空字符（NUL）")
    return value.strip()


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=200, description="标题")
    summary: str = Field(default="", max_length=5000)
    source: Source = Source.other
    source_url: str = Field(default="", max_length=2000)
    category: Category
    level: Level | None = Field(default=None, description="I 特别重大 · II 重大 · III 较大 · IV 一般")
    party: str = Field(max_length=64, description="责任单位代码, e.g. bazhou")
    detected_at: datetime | None = Field(default=None, description="发现时间; 默认当前时间; 不带时区按北京时间")
    drill: bool = Field(default=False, description="演练")

    @field_validator("title", "summary", "source_url", "party")
    @classmethod
    def _text(cls, value: str) -> str:
        return _clean_text(value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value:
            raise ValueError("请填写标题")
        return value

    @field_validator("source_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("来源链接须以 http:// 或 https:// 开头")
        return value

    @field_validator("detected_at")
    @classmethod
    def _detected(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if value > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValueError("发现时间不能晚于当前时间")
        return value

    @model_validator(mode="after")
    def _default_level(self) -> "IncidentCreate":
        if self.level is None:
            if self.category not in UNGRADED_CATEGORIES:
                raise ValueError("请选择事件级别（自然灾害、事故灾难、公共卫生事件须定级）")
            self.level = Level.IV
        return self


class MilestoneOut(BaseModel):
    key: str
    label: str
    due_at: datetime
    state: str
    met_at: datetime | None = None
    waived_reason: str | None = None


class PartyOut(BaseModel):
    code: str
    name: str
    kind: str


class IncidentOut(BaseModel):
    id: str = Field(description="human id, e.g. YQ-2026-000123")
    title: str
    summary: str
    source: str
    source_url: str
    category: str
    level: str
    party: PartyOut
    status: str
    drill: bool
    policy: str
    reporter: str
    detected_at: datetime
    opened_at: datetime
    closed_at: datetime | None
    next_due_at: datetime | None
    overdue: bool
    milestones: list[MilestoneOut]


class TimelineEventOut(BaseModel):
    seq: int
    kind: str
    actor: str
    at: datetime
    payload: dict


class NotificationOut(BaseModel):
    kind: str
    tags: str
    channel: str
    service: str
    attempt: int
    status: str
    error: str
    at: datetime


class TimelineOut(BaseModel):
    incident: str
    events: list[TimelineEventOut]
    notifications: list[NotificationOut]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcknowledgeIn(_Action):
    note: str = Field(default="", max_length=5000)


class ReleaseIn(_Action):
    released_at: datetime | None = Field(default=None, description="发布时间; 默认当前时间")
    channel: str = Field(default="", max_length=200, description="发布渠道, e.g. 政府网站、政务微博")
    url: str = Field(default="", max_length=2000)
    summary: str = Field(default="", max_length=5000)

    @field_validator("channel", "url", "summary")
    @classmethod
    def _text(cls, value: str) -> str:
        return _clean_text(value)

    @field_validator("released_at")
    @classmethod
    def _when(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if value > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValueError("发布时间不能晚于当前时间")
        return value


class NoteIn(_Action):
    text: str = Field(min_length=1, max_length=5000)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        value = _clean_text(value)
        if not value:
            raise ValueError("请填写备注内容")
        return value


class _Reasoned(_Action):
    reason: str = Field(min_length=1, max_length=5000)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = _clean_text(value)
        if not value:
            raise ValueError("请填写理由")
        return value


class ReassignIn(_Reasoned):
    party: str = Field(max_length=64)


class LevelIn(_Reasoned):
    level: Level


class WaiveIn(_Reasoned):
    milestone: MilestoneKey


class CloseIn(_Action):
    reason: str = Field(default="", max_length=5000)


class ReopenIn(_Reasoned):
    pass


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
