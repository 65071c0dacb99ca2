"""Languages of the pages: Simplified Chinese by default, English on request (per user, remembered).

Messages live in the gettext catalog under ``api/locales`` (msgids in English, ``zh_CN`` translates
them); ``pybabel compile -d api/locales`` turns the .po files into the .mo files shipped with the app.
"""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
DEFAULT = "zh"
# The User.language value -> the catalog's locale and the page's lang attribute.
LANGUAGES = {"zh": ("zh_CN", "zh-CN", "中文"), "en": ("en", "en", "English")}


def normalize(code: str | None) -> str:
    """'en', 'en-US', 'EN' -> 'en'; anything else (or nothing) -> the default, Chinese."""
    text = (code or "").strip().lower().replace("_", "-")
    return "en" if text.split("-")[0] == "en" else DEFAULT


@lru_cache
def translations(lang: str) -> _gettext.NullTranslations:
    """English is the msgid language: it needs no catalog (an en catalog, if present, still wins)."""
    locale = LANGUAGES[normalize(lang)][0]
    return _gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[locale], fallback=True)


def gettext(lang: str, message: str, **values: object) -> str:
    # gettext("") is the catalog's header ("Project-Id-Version: …"): a label looked up for an empty code
    # (``_(labels.X.get(code, code))``) must show nothing, not that.
    text = translations(lang).gettext(message) if message else ""
    return text % values if values else text


def N_(message: str) -> str:  # noqa: N802 (the gettext convention: mark for extraction, translate later)
    return message
