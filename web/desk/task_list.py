"""The task list's query: one builder for the page (`/tasks`) and the JSON API (`GET /api/tasks`), so both list
the same work items for the same filters, in the same order, with the same total.

Filters (all optional, combined with AND): scope `mine` | `unit` (default) | `all` (everything the caller may
see, web/visibility.py), `process` (process key), `task` (task name as shown), `element` (BPMN element id),
`unit` (unit code), `channel` (信访形式 of the case), `overdue` (1: due date passed). Sort: `due` (earliest
first, items without a due date last; default) or `-due` (latest first, items without a due date last).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, union_all

from engine.store import Case, WorkItem
from services.store.handling import RegistrationIndex

from .. import visibility
from ..auth import ApiError, Principal

SCOPES = ("mine", "unit", "all")
SORTS = ("due", "-due")
TEXT_KEYS = ("process", "task", "element", "unit", "channel")
KEYS = ("scope", "sort", "overdue") + TEXT_KEYS
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")


@dataclass
class TaskFilters:
    scope: str = "unit"
    sort: str = "due"
    overdue: bool = False
    text: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, args, strict: bool) -> TaskFilters:
        """From query parameters. `strict` (the API) answers a bad value with 400 naming it; the page drops it."""
        f = cls()
        scope = (args.get("scope") or "unit").strip()
        sort = (args.get("sort") or "due").strip()
        overdue = (args.get("overdue") or "").strip().lower()
        if scope not in SCOPES:
            _bad(strict, "scope 只能是 mine、unit 或 all（scope must be mine, unit or all）")
        else:
            f.scope = scope
        if sort not in SORTS:
            _bad(strict, "sort 只能是 due（期限由近到远）或 -due（由远到近）（sort must be due or -due）")
        else:
            f.sort = sort
        if overdue not in _TRUE + _FALSE:
            _bad(strict, "overdue 只能是 1 或 0（overdue must be 1 or 0）")
        f.overdue = overdue in _TRUE
        f.text = {k: str(args.get(k)).strip()[:128] for k in TEXT_KEYS if str(args.get(k) or "").strip()}
        return f

    def params(self) -> dict[str, str]:
        """As query parameters (links, saved filters); defaults left out except the scope."""
        out = {"scope": self.scope, **self.text}
        if self.overdue:
            out["overdue"] = "1"
        if self.sort != "due":
            out["sort"] = self.sort
        return out


def _bad(strict: bool, message: str) -> None:
    if strict:
        raise ApiError(400, "malformed", message)


def _channel_fragment(channel: str) -> str:
    """`"channel":"来访"` as it appears in the case's compact summary JSON."""
    return json.dumps({"channel": channel}, ensure_ascii=False, separators=(",", ":"))[1:-1]


def conditions(p: Principal, f: TaskFilters, now: datetime) -> tuple[list, bool]:
    """The conditions on `WorkItem` of the open work items `p` may see that match `f`, and whether they also
    name `Case` (the channel filter: the query must join the case row)."""
    where = [WorkItem.state == "open", visibility.work_item_filter(p)]
    if f.scope == "mine":
        where.append(WorkItem.assignee == p.username)
    elif f.scope == "unit":
        where.append(visibility.work_item_role_filter(p))
    return where + _filters(f, now), bool(f.text.get("channel"))


def _filters(f: TaskFilters, now: datetime) -> list:
    """The conditions of the list's own filters (process, task, element, unit, overdue, channel)."""
    where, t = [], f.text
    for key, column in (("process", WorkItem.process_key), ("task", WorkItem.name), ("element", WorkItem.element_id),
                        ("unit", WorkItem.unit)):
        if t.get(key):
            where.append(column == t[key])
    if f.overdue:
        where += [WorkItem.due_at.is_not(None), WorkItem.due_at < now]
    if t.get("channel"):
        where.append(Case.summary_json.contains(_channel_fragment(t["channel"]), autoescape=True))
    return where


def _parts(p: Principal, f: TaskFilters, now: datetime) -> list[list]:
    """`conditions` as disjoint parts, each a list of conditions: for the `unit` scope one per role asked
    (web/visibility.py `unit_work_item_filters`: each read through the index on (state, role, unit, due_at, id,
    case_id)), else the one list."""
    if f.scope != "unit":
        return [conditions(p, f, now)[0]]
    rest = [WorkItem.state == "open", *_filters(f, now)]
    return [[*rest, part] for part in visibility.unit_work_item_filters(p)]


def _rows_query():
    return select(WorkItem, Case.summary_json, RegistrationIndex.petitioner_masked, RegistrationIndex.case_no) \
        .join(Case, Case.id == WorkItem.case_id) \
        .outerjoin(RegistrationIndex, RegistrationIndex.case_id == WorkItem.case_id)


def build(p: Principal, f: TaskFilters, now: datetime):
    """The open work items `p` may see that match `f`, with the case summary, masked petitioner and case number
    (unordered: `ordered` adds the order)."""
    where, _ = conditions(p, f, now)
    return _rows_query().where(*where)


def ordered(q, f: TaskFilters):
    due = WorkItem.due_at.desc() if f.sort == "-due" else WorkItem.due_at.asc()
    return q.order_by(WorkItem.due_at.is_(None), due, WorkItem.id)


def _ids(where: list, with_case: bool):
    q = select(WorkItem.id)
    return (q.join(Case, Case.id == WorkItem.case_id) if with_case else q).where(*where)


COUNT_CAP = 10_000  # open items are counted exactly up to here; beyond, the total says "more than COUNT_CAP"


@dataclass
class Page:
    total: int  # the items matching, counted up to COUNT_CAP
    more: bool  # more than COUNT_CAP match (total is then COUNT_CAP): the count stopped there
    rows: list  # (WorkItem, summary_json, petitioner_masked, case_no), in the order of `ordered`


def fetch(s, p: Principal, f: TaskFilters, now: datetime, limit: int, offset: int) -> Page:
    """One page of the list and its count. With 100,000 open items the page must not sort them all (issue #21):
    each disjoint part of the list (`_parts`) gives its first items with a due date in the order of an index,
    then those without one by id, only as many as the page needs, and the parts are merged. The count is one
    statement counting each part from the work items alone (and the case row only for the channel filter), and
    stops at COUNT_CAP: an administrator's "all" over 100,000 open items would otherwise read every one of them
    on every page (PostgreSQL counts without a shortcut), while a list longer than that is paged, not counted.
    The statements are built once per caller and filters (`_statements`)."""
    count, with_due, without_due = _statements(p, f, now)
    total = sum(s.execute(count).one())
    need = offset + limit
    ids = list(s.scalars(with_due, {"n": need}))
    if len(ids) < need:
        ids += list(s.scalars(without_due, {"n": need - len(ids)}))
    page = ids[offset:need]
    found = {row[0].id: row for row in s.execute(_PAGE_ROWS, {"ids": page}).all()} if page else {}
    return Page(min(total, COUNT_CAP), total > COUNT_CAP, [found[i] for i in page if i in found])


_PAGE_ROWS = _rows_query().where(WorkItem.id.in_(bindparam("ids", expanding=True)))

# (caller, filters) -> the statements of `fetch`, as `_build` made them: they depend on nothing else (the caller's
# roles, units and name; the filters; the time only with `overdue`, whose statements are not kept). Building them
# took about a millisecond of a list request's CPU. Bounded; a caller whose roles change has another key.
_BUILT: OrderedDict = OrderedDict()
_BUILT_MAX = 512
_BUILT_LOCK = threading.Lock()


def _statements(p: Principal, f: TaskFilters, now: datetime) -> tuple:
    if f.overdue:  # the conditions name the time
        return _build(p, f, now)
    key = (p.username, tuple(sorted(p.roles)), frozenset(p.units), frozenset(p.role_units), f.scope, f.sort,
           tuple(sorted(f.text.items())))
    with _BUILT_LOCK:
        built = _BUILT.get(key)
        if built is not None:
            _BUILT.move_to_end(key)
            return built
    built = _build(p, f, now)
    with _BUILT_LOCK:
        _BUILT[key] = built
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    return built


def _build(p: Principal, f: TaskFilters, now: datetime) -> tuple:
    """The count (one row, a figure per part), and the ids of the first `n` (a parameter) items with a due date
    and without one, in the list's order."""
    parts = _parts(p, f, now)
    with_case = bool(f.text.get("channel"))
    count = select(*[select(func.count()).select_from(_ids(w, with_case).limit(COUNT_CAP + 1).subquery())
                     .scalar_subquery() for w in parts])
    return (count, _first(parts, with_case, WorkItem.due_at.is_not(None), _due_order(f)),
            _first(parts, with_case, WorkItem.due_at.is_(None), lambda due, i: (i,)))


def _due_order(f: TaskFilters):
    return lambda due, i: (due.desc() if f.sort == "-due" else due.asc(), i)


def _first(parts: list[list], with_case: bool, extra, order):
    """The ids of the first `n` items of all `parts` (with the condition `extra`) in `order`: each part's first
    `n`, merged (`n` is the statement's parameter)."""
    n = bindparam("n", type_=Integer)
    if len(parts) == 1:
        q = _ids(parts[0], with_case).where(extra)
        return q.order_by(*order(WorkItem.due_at, WorkItem.id)).limit(n)
    subs = [_ids(w, with_case).add_columns(WorkItem.due_at).where(extra)
            .order_by(*order(WorkItem.due_at, WorkItem.id)).limit(n).subquery() for w in parts]
    merged = union_all(*[select(sub.c.id, sub.c.due_at) for sub in subs]).subquery()
    return select(merged.c.id).order_by(*order(merged.c.due_at, merged.c.id)).limit(n)


def choices(s, p: Principal) -> dict[str, list[str]]:
    """The values the filters can take among the work items `p` may see (the page's drop-downs)."""
    base = select(WorkItem).where(WorkItem.state == "open", visibility.work_item_filter(p)).subquery()
    return {
        "process": sorted(s.scalars(select(base.c.process_key).distinct())),
        "task": sorted(s.scalars(select(base.c.name).distinct())),
        "unit": sorted(u for u in s.scalars(select(base.c.unit).distinct()) if u),
    }
