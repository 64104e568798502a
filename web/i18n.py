"""Language and dates: Chinese by default, English on request (Flask-Babel).

Message ids are the Chinese texts themselves, so a page is right in Chinese even where an English translation is
still missing. Each area of the web app keeps its own catalogue in `web/translations/<area>/en/LC_MESSAGES/
messages.po`; all are merged. Catalogues are compiled to `.mo` when the app starts (and again when a `.po` is newer).
"""
from __future__ import annotations

import os
import re
import tempfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext

from engine.calendar.display import due_day, due_day_and_time

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_Hans_CN"
BEIJING = ZoneInfo("Asia/Shanghai")


def catalogue_dirs() -> list[Path]:
    return sorted(p for p in TRANSLATIONS.iterdir() if p.is_dir()) if TRANSLATIONS.is_dir() else []


def compile_catalogues() -> None:
    """Compile every stale `.po` to `.mo` (atomically: several test processes may start at once)."""
    for po in TRANSLATIONS.glob("*/*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.replace(tmp, mo)


def select_locale() -> str:
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return DEFAULT_LOCALE


def _readable(value):
    """"" for no value; a date or datetime, read from ISO text (as in JSON results) where given as text; any
    other text as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def cn_date(value) -> str:
    """2026年3月2日 in Chinese, Mar 2, 2026 in English; empty for None. An ISO text (as in JSON results) is read."""
    value = _readable(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        value = value.astimezone(BEIJING).date() if value.tzinfo else value.date()
    return format_date(value, "long")


def cn_datetime(value) -> str:
    """2026年3月2日 09:00 (Beijing time)."""
    value = _readable(value)
    if isinstance(value, str):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return cn_date(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return f"{format_date(value.astimezone(BEIJING).date(), 'long')} {format_datetime(value, 'HH:mm')}"


def due_date(value) -> str:
    """The day a deadline falls due (a deadline ending 24:00 of 14 Dec, stored as 15 Dec 00:00, is 14 Dec), in the
    page's language; empty for no deadline. Every due date on a page goes through here, never through `cndate`."""
    day = due_day(value)
    return "" if day is None else format_date(day, "long")


def due_datetime(value) -> str:
    """2026年12月14日 24:00: the due day and its Beijing time, 24:00 for a deadline ending at midnight."""
    parts = due_day_and_time(value)
    return "" if parts is None else f"{format_date(parts[0], 'long')} {parts[1]}"


def due_left(workdays_left, overdue_workdays=0) -> str:
    """剩 N 个工作日 while a deadline runs, 已逾期 N 个工作日 once it has passed; empty without a count."""
    if overdue_workdays:
        return gettext("已逾期 %(n)s 个工作日", n=overdue_workdays)
    if workdays_left is None:
        return ""
    return gettext("剩 %(n)s 个工作日", n=workdays_left)


# A service message written "中文（English）" or "中文 (English)": the English aside names the problem for API clients
# and logs; a page shows one language only.
_ASIDE = re.compile(r"\s*[（(]([^（）()\u3400-\u9fff]*[A-Za-z][^（）()\u3400-\u9fff]*)[）)]\s*")


def in_page_language(text) -> str:
    """`text` in the page's language: the Chinese with its English asides removed on a Chinese page; on an English
    page the translation of that Chinese where the catalogues have one, else the English asides, else the text."""
    if not isinstance(text, str) or not text:
        return text
    chinese = _ASIDE.sub("", text).strip()
    if not str(get_locale() or DEFAULT_LOCALE).startswith("en"):
        return chinese
    translated = gettext(chinese)
    if translated != chinese:
        return translated
    asides = [m.group(1).strip() for m in _ASIDE.finditer(text)]
    if asides:
        english = "; ".join(asides)
        return english[:1].upper() + english[1:] + ("" if english.endswith(".") else ".")
    return text


def init_i18n(app: Flask) -> None:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in catalogue_dirs())
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["cndate"] = cn_date
    app.jinja_env.filters["cndatetime"] = cn_datetime
    app.jinja_env.filters["duedate"] = due_date
    app.jinja_env.filters["duedatetime"] = due_datetime
    app.jinja_env.globals["due_left"] = due_left
    app.jinja_env.filters["in_page_language"] = in_page_language

    @app.before_request
    def remember_language():
        if request.args.get("lang") in LANGUAGES:
            session["lang"] = request.args["lang"]

    @app.context_processor
    def language_context():
        locale = str(get_locale() or DEFAULT_LOCALE)
        return {"lang": locale, "html_lang": "en" if locale.startswith("en") else "zh-CN", "languages": LANGUAGES}
