"""Request and response bodies of the JSON API. Codes stay ASCII; labels live in the catalog."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The human actions' inputs are the domain's (desk.inputs): re-exported, so the API's bodies stay in one place.
from desk.inputs import (
    CLOCK_SKEW,
    SHANGHAI,
    AcknowledgeIn,
    CloseIn,
    Level,
    LevelIn,
    MilestoneKey,
    NoteIn,
    ReassignIn,
    ReleaseIn,
    ReopenIn,
    WaiveIn,
    as_utc,
    clean_text,
    not_in_future,
    web_link,
)
from desk.vocab import UNGRADED_CATEGORIES, Category, Source

__all__ = [
    "CLOCK_SKEW", "SHANGHAI", "AcknowledgeIn", "Category", "CloseIn", "IncidentCreate", "IncidentOut", "Level",
    "LevelIn", "MilestoneKey", "MilestoneOut", "NoteIn", "NotificationOut", "PartyOut", "ReassignIn", "ReleaseIn",
    "ReopenIn", "Source", "TimelineEventOut", "TimelineOut", "TokenOut", "UNGRADED_CATEGORIES", "WaiveIn", "as_utc",
    "HandoverDraftOut", "HandoverIn", "HandoverOut", "RosterImportOut", "ShiftIn", "ShiftOut",
]


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
    supporting: list[str] = Field(default_factory=list, max_length=30,
                                  description="配合单位代码 (牵头单位为 party), e.g. [\"dept-wjw\"]")

    @field_validator("title", "summary", "source_url", "party")
    @classmethod
    def _text(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value:
            raise ValueError("请填写标题")
        return value

    @field_validator("source_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_link(value)

    @field_validator("detected_at")
    @classmethod
    def _detected(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return not_in_future(value, "发现时间不能晚于当前时间")

    @model_validator(mode="after")
    def _default_level(self) -> IncidentCreate:
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


class SupportingOut(BaseModel):
    party: PartyOut
    added_at: datetime
    acknowledge_due_at: datetime | None = None
    acknowledge_state: str | None = None
    acknowledged_at: datetime | None = None


class TaskOut(BaseModel):
    n: int
    party: PartyOut
    text: str
    due_at: datetime
    needs_attachment: bool
    state: str
    met_at: datetime | None = None
    done_by: str = ""
    note: str = ""
    attachment_sha256: str = ""


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
    merged_into: str | None = Field(default=None, description="closed as merged into this incident")
    merged_from: list[str] = Field(default_factory=list, description="incidents merged into this one (one read)")
    related: list[str] = Field(default_factory=list, description="incidents linked as related (one read)")
    supporting: list[SupportingOut] = Field(default_factory=list, description="配合单位, each with its own acknowledgement")
    tasks: list[TaskOut] = Field(default_factory=list, description="督办事项")


class SimilarOut(BaseModel):
    """A likely duplicate of the title being typed (GET /api/incidents/similar)."""

    id: str
    title: str
    status: str
    party: str = Field(description="the responsible party's name")
    detected_at: datetime
    score: float = Field(description="0..1, how much of the wording the two share")


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


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class AttachmentOut(BaseModel):
    key: str
    name: str
    sha256: str
    size: int
    content_type: str
    uploaded_by: str
    uploaded_at: datetime
    url: str  # the bytes: images inline, every other type as a download
    thumbnail_url: str | None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_reason: str | None = None


# --- the duty roster and the shift handover -----------------------------------------------------------------


class ShiftIn(BaseModel):
    """One shift: ``party`` a party's code for its liaison on duty, or empty (or 市值班室) for the city duty office."""

    model_config = ConfigDict(extra="forbid")

    party: str = Field(default="", max_length=64)
    person: str = Field(min_length=1, max_length=64, description="the user name of the person on duty")
    starts_at: datetime = Field(description="Beijing time when no zone is given")
    ends_at: datetime
    phone: str = Field(default="", max_length=32)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @field_validator("party", "person", "phone")
    @classmethod
    def _text(cls, value: str) -> str:
        return clean_text(value)


class ShiftOut(BaseModel):
    id: int
    party: str | None = Field(description="the party's code; null: the city duty office (市值班室)")
    party_name: str
    username: str
    person: str
    phone: str
    starts_at: datetime
    ends_at: datetime
    on_duty_now: bool
    personal_channel: bool = Field(description="the person has a notify URL of their own (never shown)")


class RosterImportOut(BaseModel):
    added: int
    replaced: int
    starts_at: datetime
    ends_at: datetime


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incoming: str = Field(min_length=1, max_length=64, description="the user name of the officer taking over")
    remarks: str = Field(default="", max_length=2000)

    @field_validator("incoming", "remarks")
    @classmethod
    def _text(cls, value: str) -> str:
        return clean_text(value)


class HandoverOut(BaseModel):
    id: int
    outgoing: str
    incoming: str
    status: str = Field(description="handed_over | escalated | confirmed")
    shift_start: datetime
    shift_end: datetime
    handed_over_at: datetime
    confirm_due_at: datetime
    confirmed_at: datetime | None
    escalated_at: datetime | None
    remarks: str
    note: dict = Field(description="open incidents with their open deadlines, the shift's timeline, what is missing")


class HandoverDraftOut(BaseModel):
    shift_start: datetime
    shift_end: datetime
    on_roster: bool
    incoming: str | None = Field(description="the roster's proposal for who takes over")
    note: dict
