"""What the incident service refuses, as typed errors: no HTTP here.

Each error carries a message ``code`` (the catalog key the pages translate), the ``params`` the message
names, the form ``field`` it belongs to (invalid input only) and the Chinese sentence the JSON API returns.
The JSON routes map them to a status in one handler (api.app); the pages map them to a form error or an
error page in one function (api.web.views.desk_error_messages).

Refusals that come from the workflow's validators keep the workflow's own Chinese sentence and carry the
validator's code and params (desk.refusals); only a worker from before codes leaves just the kind of refusal
(``workflow.invalid`` / ``workflow.conflict``).
"""

from __future__ import annotations

from typing import Any

ENGINE_UNAVAILABLE = "流程引擎暂时无法连接，操作未执行，请稍后重试。"


class DeskError(Exception):
    """A refusal a person sees: ``message`` is the Chinese sentence, ``code`` + ``params`` its catalog key."""

    code = "desk.error"

    def __init__(self, message: str, *, code: str | None = None, params: dict[str, Any] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.params = dict(params or {})
        self.field = field


class NotFound(DeskError):
    """The incident does not exist, or this user may not know that it does (the same answer for both)."""

    code = "incident.not_found"


class Forbidden(DeskError):
    """The user's role may not do this."""

    code = "role.forbidden"


class InvalidInput(DeskError):
    """The input cannot be used; ``field`` names the form field to fix (None: the request as a whole)."""

    code = "input.invalid"


class TooLarge(InvalidInput):
    """A file over the configured size (413)."""

    code = "attachment.too_large"


class UnsupportedType(InvalidInput):
    """A file whose bytes are not of a type the desk keeps (415)."""

    code = "attachment.type_refused"


class Conflict(DeskError):
    """The incident's state does not allow this now."""

    code = "incident.conflict"


class EngineUnavailable(DeskError):
    """Temporal cannot be reached: nothing was done, try again."""

    code = "engine.unavailable"

    def __init__(self, message: str = ENGINE_UNAVAILABLE, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


def incident_not_found(human_id: str) -> NotFound:
    return NotFound(f"没有编号为 {human_id[:40]} 的舆情事件。", params={"id": human_id[:40]})


def unknown_holiday_year(year: int, sentence: str) -> InvalidInput:
    """A working-day deadline would fall in a year whose official holidays the desk does not know yet."""
    return InvalidInput(sentence, code="holidays.unknown_year", field="detected_at", params={"year": year})


def unknown_party(code: str) -> InvalidInput:
    return InvalidInput(f"未知的责任单位代码：{code}", code="party.unknown", field="party", params={"party": code})
