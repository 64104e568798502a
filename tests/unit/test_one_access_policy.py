"""web/visibility.py is the only access policy: who sees every case, who may act on a task, who reads only.

The test reads the code of web/ and services/ for role sets (two or more role names in one tuple or set) and for
role checks with a literal role name (`has_role("admin")`, `holds("bureau", ...)`), outside web/visibility.py and
web/auth.py (which defines the principal). What remains is listed below with the reason it is not an access
decision on cases: which roles may open a page (an entry gate, like `@roles_required`), the navigation, and the
masking rule's registering desks. A new role set or role check elsewhere fails here: decide it in visibility.py
(one function, one role set) and call that.
"""
from __future__ import annotations

import re
from pathlib import Path

from web import visibility

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("admin", "auditor", "designer", "bureau", "county_office", "leader", "registrar", "jointmeeting",
         "review_body", "unit_handler", "receiver")
_ROLE = "|".join(ROLES)
ROLE_SET = re.compile(rf'[({{\[]\s*"(?:{_ROLE})"\s*,\s*"(?:{_ROLE})"')
ROLE_CHECK = re.compile(rf'(?:has_role|holds)\(\s*"(?:{_ROLE})"|role_names\s*[<>=&|-]+\s*[{{(]\s*"')
POLICY_FILES = {"web/visibility.py", "web/auth.py"}

# line (stripped) -> why it is not an access decision on cases
ALLOWED = {
    'REGISTER_ROLES = ("registrar", "county_office", "bureau", "admin")': "entry gate: who may register petitions",
    'AUDIT_ROLES = ("auditor", "admin")': "entry gate: the audit pages",
    'LIST_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")': "entry gate: lists",
    'STATS_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")': "entry gate: stats",
    'FREEZE_ROLES = ("bureau", "admin")': "entry gate: freezing a statistics period",
    'DESIGNERS = ("designer", "admin")': "entry gate: the designer",
    '("handling.register", "来访登记", ("registrar", "county_office", "bureau", "admin")),': "navigation",
    '("lists.index", "四个清单", ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")),':
        "navigation",
    '("stats.dashboard", "统计分析", ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")),':
        "navigation",
    '("designer.index", "流程设计", ("designer", "admin")),': "navigation",
    '("audit.index", "审计", ("auditor", "admin")),': "navigation",
    '("totp.account_page", "二次验证", ("admin", "designer", "auditor")),': "navigation: the second-factor page",
    'if p.has_role("designer") and not p.has_role("registrar", "unit_handler") and \\': "navigation: landing page",
    'if p.has_role("auditor") and "audit.index" in current_app.view_functions:': "navigation: landing page",
    'REGISTERING_ROLES = frozenset({"registrar", "county_office", "bureau"})':
        "masking rule (services/masking.py): the reception desks whose registrar reads personal data in full",
    'OFFICE_WORK = frozenset({"unit_handler", "registrar", "county_office", "bureau"})':
        "placement rule (services/work_placement.py): where a new work item goes, not who sees a case",
    'UNIT_OR_HEAD_ROLES = ("unit_handler", "leader")':
        "placement rule (services/work_placement.py): a unit_or_head item is held through either role",
}


def role_decisions() -> dict[str, str]:
    found = {}
    for top in ("web", "services"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in POLICY_FILES:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                text = line.strip()
                if text.startswith("@roles_required("):
                    continue  # an entry gate on a view, read where the view is declared
                if ROLE_SET.search(text) or ROLE_CHECK.search(text):
                    found[text] = f"{rel}:{number}"
    return found


def test_every_listed_exception_is_still_there():
    """An exception that no longer matches any line is stale: remove it, so the list stays the truth."""
    stale = set(ALLOWED) - set(role_decisions())
    assert stale == set(), f"listed but no longer in the code: {sorted(stale)}"


def test_no_role_decisions_outside_the_policy():
    unexplained = {text: where for text, where in role_decisions().items() if text not in ALLOWED}
    assert unexplained == {}, ("role sets or role checks outside web/visibility.py; decide them there:\n"
                               + "\n".join(f"{where}: {text}" for text, where in unexplained.items()))


def test_the_check_finds_a_second_see_all():
    assert ROLE_SET.search('SEE_ALL_ROLES = ("admin", "auditor")')
    assert ROLE_CHECK.search('if not p.has_role("admin", "auditor"):')
    assert ROLE_CHECK.search('if p.role_names <= {"admin", *READ_ONLY}:')


def test_one_role_set_sees_every_case():
    assert set(visibility.SEE_ALL) == {"admin", "auditor", "designer"}
    assert set(visibility.READ_ONLY) <= set(visibility.SEE_ALL)
