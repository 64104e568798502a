"""The English catalogues of the web app: Flask-Babel merges every area's `messages.po`, so one Chinese text must
have one English text everywhere, none may be fuzzy or empty, and every Chinese text the pages pass through
gettext must have its English."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CATALOGUES = sorted((WEB / "translations").glob("*/en/LC_MESSAGES/messages.po"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract"),
           ("templates/**.txt", "jinja2.ext:babel_extract")]


def entries() -> list[tuple[str, object]]:
    out = []
    for po in CATALOGUES:
        with po.open("rb") as f:
            catalog = read_po(f, locale="en")
        out += [(po.parts[-4], m) for m in catalog if m.id]
    return out


def merged_english() -> dict[str, str]:
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string for _, m in entries()}


def used_chinese_texts() -> dict[str, str]:
    """Every Chinese literal the web app's Python and templates pass to `_`/`gettext`/`ngettext`, with a place."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(WEB), method_map=METHODS):
        for text in (message if isinstance(message, tuple) else (message,)):
            if text and CHINESE.search(text):
                found.setdefault(text, f"web/{filename}:{lineno}")
    return found


def test_there_is_a_catalogue_per_area():
    areas = {po.parts[-4] for po in CATALOGUES}
    assert {"core", "handling", "casepage", "designer", "audit", "stats", "lists"} <= areas, areas


def test_one_chinese_text_has_one_english_text_in_all_catalogues():
    english: dict[str, dict[str, str]] = defaultdict(dict)
    for area, m in entries():
        english[str(m.id)][area] = str(m.string)
    conflicts = {msgid: by_area for msgid, by_area in english.items() if len(set(by_area.values())) > 1}
    assert not conflicts, "the same text translated differently (Flask-Babel keeps only one):\n" + "\n".join(
        f"  {msgid}: {by_area}" for msgid, by_area in sorted(conflicts.items()))


def test_no_entry_is_fuzzy_or_empty():
    bad = [f"{area}: {m.id!r}{' (fuzzy)' if m.fuzzy else ''}{' (empty)' if not m.string else ''}"
           for area, m in entries() if m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string))]
    assert not bad, "\n".join(bad)


def test_every_chinese_text_of_the_pages_has_its_english():
    english = merged_english()
    used = used_chinese_texts()
    assert len(used) > 300, len(used)  # the extraction itself works
    missing = {text: where for text, where in used.items() if text not in english}
    assert not missing, f"{len(missing)} texts without English:\n" + "\n".join(
        f"  {where}: {text}" for text, where in sorted(missing.items(), key=lambda kv: kv[1]))
