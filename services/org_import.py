"""Importing the organisation (units and the people who hold roles in them) from a file an office maintains:
YAML in the format of `processes/organisation.yaml`, or an Excel workbook (.xlsx) with the sheets 单位 (code, name,
kind, parent, adcode) and 人员 (username, name, role, unit, subunits; one row per role). `lianxin org import FILE`
and the admin page /admin/organisation use it; `workbook()` writes the current organisation as such a workbook (the
template to edit).

What an import means:
- units: the file lists the whole tree. Units it lacks are removed, unless cases use them (work items or register
  rows name them: refused, with the cases) or people the file does not list still hold roles there (refused).
- people: each person the file lists holds exactly the roles it lists afterwards (roles added, changed, removed);
  a new username becomes an account without a usable password (an administrator sets one with
  `lianxin user set-password`). People the file does not list keep their accounts and roles.

Everything is checked first and every problem is listed at once with its place (sheet and row): missing fields,
duplicate codes or usernames, unknown kinds, parents or roles, a cycle of parents, a person without roles, a role in
a unit the file lacks, and the coverage of the routing (services/org_coverage.py): an organisation that would leave
a (role, unit) pair the deployed routing can produce without a holder is refused. On any problem nothing changes.
An applied import is journaled (services/store/organisation.py: actor, time, file, every unit and membership added,
changed or removed) and the org chart the handlers read is refreshed.
"""
from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from engine.store import Case, CaseRegister, WorkItem
from infra import security_log
from infra.accounts import Membership, Unit, User, hash_password

from . import org_coverage
from .orgchart import OrgChart, OrgUnit
from .roles import ROLE_LABELS
from .store.organisation import OrgChange

# Unit kinds below the tier levels (which the tiers of processes/organisation.yaml add: county, city, province)
KINDS = {
    "petition_office": "信访部门", "joint_meeting_office": "联席会议办公室", "political_legal": "政法机关",
    "discipline": "纪检监察机关", "department": "主管部门", "organisation": "组织部门", "township": "乡镇（街道）",
}
# Roles a person may hold: the organisation's roles, and the receivers of route-outs (政法/纪检监察机关收件)
ROLES = {**ROLE_LABELS, "receiver": "收件人"}
UNIT_COLUMNS = ("code", "name", "kind", "parent", "adcode")
PERSON_COLUMNS = ("username", "name", "role", "unit", "subunits")
UNIT_SHEET, PERSON_SHEET = "单位", "人员"
# Chinese headings the sheets may use instead of the field names
HEADINGS = {"代码": "code", "单位代码": "code", "名称": "name", "单位名称": "name", "类别": "kind", "上级": "parent",
            "上级单位": "parent", "行政区划代码": "adcode", "用户名": "username", "姓名": "name", "角色": "role",
            "单位": "unit", "含下级": "subunits", "含下级单位": "subunits"}
CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ADCODE = re.compile(r"^\d{6}$")
MAX_ROWS = 20000
TRUE, FALSE = {"true", "1", "yes", "是", "y"}, {"false", "0", "no", "否", "n", ""}


@dataclass(frozen=True)
class Issue:
    where: str  # 单位 第 3 行 / units 第 3 项（第 12 行）
    message: str

    def __str__(self) -> str:
        return f"{self.where}：{self.message}" if self.where else self.message


@dataclass
class UnitRow:
    code: str
    name: str
    kind: str
    parent: str | None
    adcode: str | None
    where: str


@dataclass
class RoleRow:
    role: str
    unit: str
    subunits: bool
    where: str


@dataclass
class PersonRow:
    username: str
    name: str
    roles: list[RoleRow]
    where: str


@dataclass
class OrgFile:
    units: list[UnitRow] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


class ImportRefused(Exception):
    """Every problem of a file at once; nothing was changed."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass
class Plan:
    units: dict[str, list] = field(default_factory=lambda: {"added": [], "changed": [], "removed": []})
    memberships: dict[str, list] = field(default_factory=lambda: {"added": [], "changed": [], "removed": []})
    users: dict[str, list] = field(default_factory=lambda: {"added": [], "renamed": []})
    warnings: list[str] = field(default_factory=list)

    def changes(self) -> dict:
        return {"units": self.units, "memberships": self.memberships, "users": self.users}

    def empty(self) -> bool:
        return not any(v for part in (self.units, self.memberships, self.users) for v in part.values())

    def counts(self) -> dict[str, int]:
        return {f"{part}_{k}": len(v) for part, d in (("units", self.units), ("memberships", self.memberships),
                                                     ("users", self.users)) for k, v in d.items()}


# ---------------------------------------------------------------- reading a file

def read(name: str, content: bytes) -> OrgFile:
    """The file's rows, with the problems found while reading (a file that cannot be read at all: one problem)."""
    lower = name.lower()
    if lower.endswith(".xlsx"):
        return _read_xlsx(content)
    if lower.endswith((".yaml", ".yml")):
        return _read_yaml(content)
    return OrgFile(issues=[Issue("", f"不支持的文件类型“{name}”：请上传 .yaml/.yml 或 .xlsx 文件"
                                     "（unsupported file type: upload .yaml, .yml or .xlsx）")])


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader, node):
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _read_yaml(content: bytes) -> OrgFile:
    out = OrgFile()
    try:
        doc = yaml.load(content.decode("utf-8-sig"), Loader=_LineLoader) or {}  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return OrgFile(issues=[Issue("", f"YAML 无法解析，请检查缩进和引号（the file is not valid UTF-8 YAML: {exc}）")])
    if not isinstance(doc, dict):
        return OrgFile(issues=[Issue("", "文件应包含 units 和 users（或 demo_users）两个列表（expected a mapping with units "
                                         "and users）")])
    units = doc.get("units") or []
    people = doc.get("users") if "users" in doc else doc.get("demo_users") or []
    if not isinstance(units, list) or not isinstance(people, list):
        return OrgFile(issues=[Issue("", "units 和 users 都应是列表（units and users must be lists）")])
    for i, u in enumerate(units, 1):
        where = f"units 第 {i} 项" + (f"（第 {u['__line__']} 行）" if isinstance(u, dict) else "")
        if not isinstance(u, dict):
            out.issues.append(Issue(where, "每个单位应写成 {code: …, name: …, kind: …, parent: …}（each unit must be a mapping）"))
            continue
        out.units.append(UnitRow(_text(u.get("code")), _text(u.get("name")), _text(u.get("kind")),
                                 _text(u.get("parent")) or None, _text(u.get("adcode")) or None, where))
    for i, p in enumerate(people, 1):
        where = f"users 第 {i} 项" + (f"（第 {p['__line__']} 行）" if isinstance(p, dict) else "")
        if not isinstance(p, dict):
            out.issues.append(Issue(where, "每个人员应写成 {username: …, name: …, roles: […]}（each user must be a mapping）"))
            continue
        out.people.append(PersonRow(_text(p.get("username")), _text(p.get("name")),
                                    _yaml_roles(p.get("roles") or [], where, out.issues), where))
    return out


def _yaml_roles(raw_roles, where: str, issues: list[Issue]) -> list[RoleRow]:
    if not isinstance(raw_roles, list):
        issues.append(Issue(where, "roles 应是列表（roles must be a list）"))
        return []
    roles = []
    for j, r in enumerate(raw_roles, 1):
        rwhere = f"{where} 第 {j} 个角色"
        if not isinstance(r, dict):
            issues.append(Issue(rwhere, "角色应写成 {role: …, unit: …}（each role must be a mapping）"))
            continue
        sub = r.get("subunits", False)
        if not isinstance(sub, bool):
            issues.append(Issue(rwhere, f"subunits 应为 true 或 false，收到 {sub!r}（subunits must be a boolean）"))
            sub = False
        roles.append(RoleRow(_text(r.get("role")), _text(r.get("unit")), sub, rwhere))
    return roles


def _sheet_rows(ws, columns: tuple[str, ...], sheet: str, issues: list[Issue]):
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        issues.append(Issue(sheet, f"工作表为空，第 1 行应为表头：{', '.join(columns)}（the sheet is empty）"))
        return
    names = [HEADINGS.get(_text(h), _text(h).lower()) for h in header]
    missing = [c for c in columns if c not in names and c not in ("adcode", "subunits", "parent")]
    if missing:
        issues.append(Issue(f"{sheet} 第 1 行", f"表头缺少 {', '.join(missing)}（应为 {', '.join(columns)}）"
                                                f"（missing columns: {', '.join(missing)}）"))
        return
    for n, values in enumerate(rows, 2):
        if n > MAX_ROWS:
            issues.append(Issue(sheet, f"超过 {MAX_ROWS} 行，请拆分文件（too many rows）"))
            return
        if values is None or all(_text(v) == "" for v in values):
            continue
        yield n, {name: values[i] if i < len(values) else None for i, name in enumerate(names)}


def _read_xlsx(content: bytes) -> OrgFile:
    out = OrgFile()
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same answer to the office
        return OrgFile(issues=[Issue("", f"无法读取 Excel 文件，请另存为 .xlsx 后重试（not a readable .xlsx file: {exc}）")])
    for sheet in (UNIT_SHEET, PERSON_SHEET):
        if sheet not in wb.sheetnames:
            out.issues.append(Issue(sheet, f"缺少工作表“{sheet}”（the workbook needs the sheets {UNIT_SHEET} and "
                                           f"{PERSON_SHEET}）"))
    if out.issues:
        return out
    for n, row in _sheet_rows(wb[UNIT_SHEET], UNIT_COLUMNS, UNIT_SHEET, out.issues):
        out.units.append(UnitRow(_text(row.get("code")), _text(row.get("name")), _text(row.get("kind")),
                                 _text(row.get("parent")) or None, _text(row.get("adcode")) or None,
                                 f"{UNIT_SHEET} 第 {n} 行"))
    people: dict[str, PersonRow] = {}
    for n, row in _sheet_rows(wb[PERSON_SHEET], PERSON_COLUMNS, PERSON_SHEET, out.issues):
        _xlsx_person(out, people, n, row)
    return out


def _xlsx_person(out: OrgFile, people: dict[str, PersonRow], n: int, row: dict) -> None:
    where = f"{PERSON_SHEET} 第 {n} 行"
    username, name = _text(row.get("username")), _text(row.get("name"))
    sub_text = _text(row.get("subunits")).lower()
    if sub_text not in TRUE | FALSE:
        out.issues.append(Issue(where, f"含下级（subunits）应为 是/否 或 true/false，收到“{sub_text}”"))
    person = people.get(username)
    if person is None:
        person = people[username] = PersonRow(username, name, [], where)
        out.people.append(person)
    elif name and name != person.name:
        out.issues.append(Issue(where, f"用户 {username} 的姓名与{person.where}不同（“{name}”与“{person.name}”）"
                                       "（the same user has two names）"))
    if _text(row.get("role")) or _text(row.get("unit")):
        person.roles.append(RoleRow(_text(row.get("role")), _text(row.get("unit")), sub_text in TRUE, where))


# ---------------------------------------------------------------- checking

def check(org: OrgFile, tier_levels: tuple[str, ...]) -> list[Issue]:
    """Every problem of the file itself (not yet against the database)."""
    issues = list(org.issues)
    seen = _check_units(org.units, set(KINDS) | set(tier_levels), issues)
    issues += _cycles(seen)
    users: dict[str, PersonRow] = {}
    for p in org.people:
        _check_person(p, users, seen, issues)
    return issues


FIELD_NAMES = {"code": "单位代码", "name": "单位名称", "kind": "类别"}


def _check_units(units: list[UnitRow], kinds: set[str], issues: list[Issue]) -> dict[str, UnitRow]:
    seen: dict[str, UnitRow] = {}
    for u in units:
        issues += [Issue(u.where, f"缺少 {name}（{FIELD_NAMES[name]}）")
                   for name, value in (("code", u.code), ("name", u.name), ("kind", u.kind)) if not value]
        if u.code and not CODE.match(u.code):
            issues.append(Issue(u.where, f"单位代码“{u.code}”只能由字母、数字和下划线组成，以字母开头（invalid unit code）"))
        if u.code in seen:
            issues.append(Issue(u.where, f"单位代码 {u.code} 重复，已在{seen[u.code].where}出现（duplicate unit code）"))
        elif u.code:
            seen[u.code] = u
        if u.kind and u.kind not in kinds:
            issues.append(Issue(u.where, f"类别“{u.kind}”未知，应为 {', '.join(sorted(kinds))} 之一（unknown kind）"))
        if u.adcode and not ADCODE.match(u.adcode):
            issues.append(Issue(u.where, f"行政区划代码“{u.adcode}”应为 6 位数字（adcode must be 6 digits）"))
    issues += [Issue(u.where, f"上级单位 {u.parent} 不在文件中（unknown parent {u.parent}）")
               for u in units if u.parent and u.parent not in seen]
    return seen


def _check_person(p: PersonRow, users: dict[str, PersonRow], units: dict[str, UnitRow], issues: list[Issue]) -> None:
    if not p.username:
        issues.append(Issue(p.where, "缺少用户名（username）"))
    elif not USERNAME.match(p.username):
        issues.append(Issue(p.where, f"用户名“{p.username}”只能由字母、数字和 _ . - 组成（invalid username）"))
    elif p.username in users:
        issues.append(Issue(p.where, f"用户名 {p.username} 重复，已在{users[p.username].where}出现（duplicate username）"))
    else:
        users[p.username] = p
    if not p.name:
        issues.append(Issue(p.where, f"用户 {p.username or '?'} 缺少姓名（name）"))
    if not p.roles:
        issues.append(Issue(p.where, f"用户 {p.username or '?'} 没有任何角色：请至少写一个角色和单位（a user without roles）"))
    pairs = set()
    for r in p.roles:
        issues += _role_issues(p.username, r, units, pairs)
        pairs.add((r.role, r.unit))


def _role_issues(username: str, r: RoleRow, units: dict[str, UnitRow], pairs: set) -> list[Issue]:
    issues = []
    if not r.role:
        issues.append(Issue(r.where, "缺少角色（role）"))
    elif r.role not in ROLES:
        issues.append(Issue(r.where, f"角色“{r.role}”未知，应为 {', '.join(ROLES)} 之一（unknown role）"))
    if not r.unit:
        issues.append(Issue(r.where, f"角色 {r.role} 缺少单位（unit）"))
    elif r.unit not in units:
        issues.append(Issue(r.where, f"角色 {r.role} 的单位 {r.unit} 不在文件的单位中（role in an unknown unit）"))
    if (r.role, r.unit) in pairs:
        issues.append(Issue(r.where, f"用户 {username} 在 {r.unit} 的角色 {r.role} 重复（duplicate role）"))
    return issues


def _cycles(units: dict[str, UnitRow]) -> list[Issue]:
    issues, reported = [], set()
    for start in units.values():
        path, code = [], start.code
        while code in units and code not in path:
            path.append(code)
            code = units[code].parent
        if code in path:
            loop = path[path.index(code):]
            key = frozenset(loop)
            if key not in reported:
                reported.add(key)
                first = units[loop[0]]
                issues.append(Issue(first.where, "上级单位构成循环：" + " → ".join(loop + [loop[0]]) + "（a cycle of parents）"))
    return issues


def chart_of(org: OrgFile, tiers) -> OrgChart:
    chart = OrgChart(tiers=tiers)
    for u in org.units:
        chart.units[u.code] = OrgUnit(u.code, u.name, u.kind, u.parent, u.adcode)
    return chart


# ---------------------------------------------------------------- planning against the database

def plan(s, org: OrgFile, tiers, actor: str | None = None) -> Plan:
    """What applying the file would change, or ImportRefused with every problem (file, cases, coverage, and an
    administrator who would take away their own last admin role and lock themselves out)."""
    issues = check(org, tuple(t.level for t in tiers))
    if issues:
        raise ImportRefused(issues)
    out = Plan()
    now_units = {u.code: u for u in s.scalars(select(Unit))}
    _plan_units(out, org, now_units)
    users = {u.username: u for u in s.scalars(select(User))}
    held: dict[tuple[str, str, str], Membership] = {
        (username, m.role, m.unit_code): m
        for m, username in s.execute(select(Membership, User.username).join(User, User.id == Membership.user_id))}
    for p in org.people:
        _plan_person(out, p, users.get(p.username), held)
    problems = _removal_problems(s, out, org, now_units, held)
    problems += _coverage(s, out, org, tiers, users, held)
    own = [p for p in org.people if p.username == actor]
    if own and any(u == actor and r == "admin" for (u, r, _unit) in held) \
            and not any(r.role == "admin" for r in own[0].roles):
        problems.append(Issue(own[0].where, f"导入后 {actor} 将不再担任系统管理员（admin），无法再管理组织机构："
                                            "请在文件中保留其 admin 角色（you would remove your own admin role）"))
    if problems:
        raise ImportRefused(problems)
    return out


def _plan_units(out: Plan, org: OrgFile, now_units: dict[str, Unit]) -> None:
    for u in org.units:
        row = now_units.get(u.code)
        after = {"code": u.code, "name": u.name, "kind": u.kind, "parent": u.parent, "adcode": u.adcode}
        if row is None:
            out.units["added"].append(after)
            continue
        before = {"code": row.code, "name": row.name, "kind": row.kind, "parent": row.parent_code, "adcode": row.adcode}
        if before != after:
            out.units["changed"].append({"code": u.code, "before": before, "after": after})
    removed = sorted(set(now_units) - {u.code for u in org.units})
    out.units["removed"] = [{"code": c, "name": now_units[c].name, "kind": now_units[c].kind} for c in removed]


def _plan_person(out: Plan, p: PersonRow, user: User | None, held: dict) -> None:
    if user is None:
        out.users["added"].append({"username": p.username, "name": p.name})
    elif user.display_name != p.name:
        out.users["renamed"].append({"username": p.username, "before": user.display_name, "after": p.name})
    wanted = {(r.role, r.unit): r.subunits for r in p.roles}
    for (role, unit), sub in sorted(wanted.items()):
        m = held.get((p.username, role, unit))
        entry = {"username": p.username, "role": role, "unit": unit, "subunits": sub}
        if m is None:
            out.memberships["added"].append(entry)
        elif bool(m.include_subunits) != sub:
            out.memberships["changed"].append(dict(entry, before_subunits=bool(m.include_subunits)))
    out.memberships["removed"] += [
        {"username": username, "role": role, "unit": unit, "subunits": bool(m.include_subunits)}
        for (username, role, unit), m in sorted(held.items()) if username == p.username and (role, unit) not in wanted]


def _removal_problems(s, out: Plan, org: OrgFile, now_units: dict[str, Unit], held: dict) -> list[Issue]:
    """Units to remove: not while cases name them, nor while people the file does not list hold roles there."""
    removed = [u["code"] for u in out.units["removed"]]
    listed = {p.username for p in org.people}
    in_use = units_in_use(s, removed)
    problems = [Issue(f"单位 {code}", f"{now_units[code].name}（{code}）不在文件中，但仍有案件使用它，不能删除："
                                     f"{'、'.join(in_use[code])}（unit in use by cases）") for code in removed if code in in_use]
    for code in removed:
        others = sorted(u for (u, _r, unit) in held if unit == code and u not in listed)
        if others:
            problems.append(Issue(f"单位 {code}", f"{now_units[code].name}（{code}）不在文件中，但文件未列出的用户 "
                                               f"{'、'.join(others)} 仍在该单位担任角色（unit still holds roles of unlisted users）"))
    return problems


def _coverage(s, out: Plan, org: OrgFile, tiers, users: dict[str, User], held: dict) -> list[Issue]:
    """The routing's coverage with the memberships as they would be after the import: required gaps are
    problems, advised ones warnings (in `out`)."""
    roles, texts = org_coverage.deployed_routing(s)
    if not roles or not texts:
        return []
    listed = {p.username for p in org.people}
    units = {u.code for u in org.units}
    active = {u.username for u in users.values() if u.active} | {a["username"] for a in out.users["added"]}
    memberships = [(r.role, r.unit, r.subunits) for p in org.people for r in p.roles if p.username in active]
    memberships += [(role, unit, bool(m.include_subunits)) for (username, role, unit), m in held.items()
                    if username not in listed and username in active and unit in units]
    problems = []
    for gap in org_coverage.gaps(chart_of(org, tiers), memberships, roles, texts):
        if gap.required:
            problems.append(Issue(f"单位 {gap.unit}", "导入后无人接收交办的工作：" + gap.text()))
        else:
            out.warnings.append(gap.text())
    return problems


def units_in_use(s, codes: list[str]) -> dict[str, list[str]]:
    """unit -> the cases (numbers, else ids) whose work items or register rows name it."""
    if not codes:
        return {}
    found: dict[str, set] = {}
    for model in (WorkItem, CaseRegister):
        for unit, case_id in s.execute(select(model.unit, model.case_id).where(model.unit.in_(codes)).distinct()):
            found.setdefault(unit, set()).add(case_id)
    out = {}
    for unit, ids in found.items():
        numbers = {i: no or (json.loads(summary or "{}").get("case_no") if summary else None)
                   for i, no, summary in s.execute(select(Case.id, Case.case_no, Case.summary_json)
                                                   .where(Case.id.in_(sorted(ids))))}
        shown = [numbers.get(i) or f"案件 {i}" for i in sorted(ids)]
        out[unit] = shown[:20] + ([f"等共 {len(shown)} 件"] if len(shown) > 20 else [])
    return out


# ---------------------------------------------------------------- applying

def apply(s, org: OrgFile, tiers, *, actor: str, at: datetime, source: str) -> tuple[Plan, int | None]:
    """Check, then change the units and memberships in the caller's transaction and journal the change. Returns the
    plan and the journal row's id (None when the file changes nothing)."""
    p = plan(s, org, tiers, actor)
    if p.empty():
        return p, None
    rows = {u.code: u for u in s.scalars(select(Unit))}
    for u in _parents_first(org.units):
        row = rows.get(u.code)
        if row is None:
            row = rows[u.code] = Unit(code=u.code)
            s.add(row)
        row.name, row.kind, row.parent_code, row.adcode = u.name, u.kind, u.parent, u.adcode
        s.flush()
    _apply_people(s, p)
    for code in _children_first([r["code"] for r in p.units["removed"]], rows):
        s.delete(rows[code])
        s.flush()
    change = OrgChange(at=at, actor=actor, source=source[:256],
                       changes=json.dumps(p.changes(), ensure_ascii=False, sort_keys=True))
    s.add(change)
    s.flush()
    return p, change.id


def _apply_people(s, p: Plan) -> None:
    users = {u.username: u for u in s.scalars(select(User))}
    unusable = hash_password(secrets.token_urlsafe(32)) if p.users["added"] else None  # no password until set
    for added in p.users["added"]:
        user = User(username=added["username"], display_name=added["name"], password_hash=unusable, active=True)
        s.add(user)
        users[user.username] = user
    for renamed in p.users["renamed"]:
        users[renamed["username"]].display_name = renamed["after"]
    s.flush()

    def membership(entry) -> Membership | None:
        return s.scalar(select(Membership).where(Membership.user_id == users[entry["username"]].id,
                                                 Membership.role == entry["role"], Membership.unit_code == entry["unit"]))
    for entry in p.memberships["removed"]:
        s.delete(membership(entry))
    for entry in p.memberships["changed"]:
        membership(entry).include_subunits = entry["subunits"]
    for entry in p.memberships["added"]:
        s.add(Membership(user_id=users[entry["username"]].id, unit_code=entry["unit"], role=entry["role"],
                         include_subunits=entry["subunits"]))
    s.flush()


def _parents_first(units: list[UnitRow]) -> list[UnitRow]:
    by_code, done, out = {u.code: u for u in units}, set(), []

    def visit(u: UnitRow):
        if u.code in done:
            return
        done.add(u.code)
        if u.parent in by_code:
            visit(by_code[u.parent])
        out.append(u)
    for u in units:
        visit(u)
    return out


def _children_first(codes: list[str], rows: dict[str, Unit]) -> list[str]:
    def depth(code: str) -> int:
        n, seen = 0, set()
        while code in rows and rows[code].parent_code and code not in seen:
            seen.add(code)
            code, n = rows[code].parent_code, n + 1
        return n
    return sorted(codes, key=depth, reverse=True)


def journal(s, limit: int = 20) -> list[dict]:
    rows = s.scalars(select(OrgChange).order_by(OrgChange.id.desc()).limit(limit))
    return [{"id": r.id, "at": r.at, "actor": r.actor, "source": r.source, "changes": json.loads(r.changes or "{}")}
            for r in rows]


# ---------------------------------------------------------------- the current organisation as a workbook

def workbook(s) -> bytes:
    """The organisation as the database holds it, in the import format: sheets 单位 and 人员 (one row per role)."""
    wb = Workbook()
    units = wb.active
    units.title = UNIT_SHEET
    units.append(list(UNIT_COLUMNS))
    rows = {u.code: u for u in s.scalars(select(Unit))}
    order = _parents_first([UnitRow(u.code, u.name, u.kind, u.parent_code, u.adcode, "") for u in
                            sorted(rows.values(), key=lambda u: u.code)])
    for u in order:
        units.append([u.code, u.name, u.kind, u.parent or "", u.adcode or ""])
    people = wb.create_sheet(PERSON_SHEET)
    people.append(list(PERSON_COLUMNS))
    for username, name, role, unit, sub in s.execute(
            select(User.username, User.display_name, Membership.role, Membership.unit_code, Membership.include_subunits)
            .join(Membership, Membership.user_id == User.id).where(User.active.is_(True))
            .order_by(User.username, Membership.unit_code, Membership.role)):
        people.append([username, name, role, unit, "是" if sub else "否"])
    for ws, widths in ((units, (22, 30, 20, 18, 10)), (people, (18, 26, 14, 22, 8))):
        for i, w in enumerate(widths):
            ws.column_dimensions["ABCDE"[i]].width = w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run(session_factory, name: str, content: bytes, tiers, *, actor: str, at: datetime,
        dry_run: bool = False) -> tuple[Plan, int | None]:
    """Read, check and (unless `dry_run`) apply a file in one transaction; ImportRefused lists every problem."""
    org = read(name, content)
    with session_factory() as s, s.begin():
        if dry_run:
            return plan(s, org, tiers, actor), None
        p, change_id = apply(s, org, tiers, actor=actor, at=at, source=name)
        if change_id is not None:
            security_log.append_in(s, at=at, actor=actor, kind="organisation_change",
                                   detail={"file": name, "org_change": change_id, **p.counts()})
        return p, change_id
