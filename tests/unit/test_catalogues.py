"""The English catalogues of the web app: Flask-Babel merges every area's `messages.po`, so one Chinese text must
have one English text everywhere, none may be fuzzy or empty, and every Chinese text the pages pass through
gettext must have its English."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CATALOGUES = sorted((WEB / "translations").glob("*/en/LC_MESSAGES/messages.po"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TRANSLATED_SERVICES = ["services/case_timeline.py", "services/stats_requests.py", "services/definition_diff.py"]
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
    for module in TRANSLATED_SERVICES:  # services that take the page's gettext as `_`
        with (ROOT / module).open("rb") as f:
            for lineno, _funcname, message, _comments in extract_python(f, ("_",), [], {}):
                for text in (message if isinstance(message, tuple) else (message,)):
                    if text and CHINESE.search(text):
                        found.setdefault(text, f"{module}:{lineno}")
    return found


def test_there_is_a_catalogue_per_area():
    areas = {po.parts[-4] for po in CATALOGUES}
    assert {"core", "handling", "casepage", "designer", "audit", "stats", "lists", "calendar"} <= areas, areas


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


# ---- texts shown by page scripts (web/frontend/lib/texts.js `t("…")`), sent by the page in `lx_texts([...])`

FRONTEND = WEB / "frontend"
JS_KEY = re.compile(r'\bt\(\s*("(?:[^"\\]|\\.)*")')
JS_IMPORT = re.compile(r'from\s+"(\.\./lib/[^"]+|\./[^"]+)"')
LX_TEXTS = re.compile(r"lx_texts\(\[(.*?)\]\)", re.DOTALL)
JINJA_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def script_keys(path: Path, seen: set | None = None) -> set[str]:
    """The texts a page script and the files it imports pass to t()."""
    seen = seen if seen is not None else set()
    if path in seen or not path.exists():
        return set()
    seen.add(path)
    source = path.read_text(encoding="utf-8")
    found = {json.loads(m.group(1)) for m in JS_KEY.finditer(source)}
    for m in JS_IMPORT.finditer(source):
        found |= script_keys((path.parent / m.group(1)).resolve(), seen)
    return found


def sent_by_templates(bundle: str) -> tuple[list[Path], set[str]]:
    pages = [p for p in (WEB / "templates").rglob("*.html") if f"dist/{bundle}.js" in p.read_text(encoding="utf-8")]
    sent = set()
    for page in pages:
        for block in LX_TEXTS.findall(page.read_text(encoding="utf-8")):
            sent |= {json.loads(f'"{s}"') for s in JINJA_STRING.findall(block)}
    return pages, sent


def test_every_text_of_the_page_scripts_is_sent_by_its_pages_and_has_its_english():
    english = merged_english()
    checked = 0
    for entry in sorted((FRONTEND / "entries").glob("*.js")):
        keys = script_keys(entry)
        if not keys:
            continue
        pages, sent = sent_by_templates(entry.stem)
        assert pages, f"no page loads dist/{entry.stem}.js"
        assert not keys - sent, f"{entry.name}: texts its pages do not send through lx_texts: {sorted(keys - sent)}"
        assert not keys - set(english), f"{entry.name}: texts without English: {sorted(keys - set(english))}"
        checked += len(keys)
    assert checked > 50, checked


def test_page_scripts_show_no_chinese_outside_t():
    """A Chinese string literal in a page script would stay Chinese on an English page."""
    offenders = []
    for path in [*FRONTEND.glob("entries/*.js"), FRONTEND / "lib" / "lianxin-properties.jsx"]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = "" if line.lstrip().startswith("//") else JS_KEY.sub("", line)
            if CHINESE.search(code.split(" // ", 1)[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_labels_the_pages_translate_from_tables_have_their_english():
    """Labels kept in tables and passed to gettext as variables (navigation, roles, case and alert states)."""
    from web.calendar.pages import SOURCE_NAMES
    from web.casepage.pages import ALERT_LABELS, STATUS_LABELS
    from web.ui import NAVIGATION, ROLE_LABELS

    english = merged_english()
    labels = {label for _endpoint, label, _roles in NAVIGATION} | set(ROLE_LABELS.values()) \
        | set(STATUS_LABELS.values()) | set(ALERT_LABELS.values()) | set(SOURCE_NAMES.values())
    assert not labels - set(english), sorted(labels - set(english))


def test_every_form_title_has_its_english():
    """Task form titles (processes/forms) are shown through gettext by templates/handling/_fields.html."""
    titles: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("title"), str) and CHINESE.search(node["title"]):
                titles.add(node["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema in (ROOT / "processes" / "forms").glob("*.json"):
        walk(json.loads(schema.read_text(encoding="utf-8")))
    assert len(titles) > 50, len(titles)
    missing = titles - set(merged_english())
    assert not missing, sorted(missing)
