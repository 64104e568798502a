"""Who sees which case and work item: the one place that decides it (pages and JSON API alike).

- admin, auditor and designer see every case, except accusations; the auditor only reads. `sees_all` is the one
  test of "sees every case" (case lists, work items, registers, the four lists, statistics, the red list); no
  other module keeps a role set for it (tests/unit/test_one_access_policy.py greps for them).
- Everyone else sees the cases and work items of the units they serve (`Principal.units`, already expanded with
  subunits where the role allows), the work items assigned to them, and the cases they registered.
- An accusation (检举控告) leaves the petition procedure for the discipline organ (or, for a matter of cadre
  selection, the organisation department). The route element has the property `confidential`, and the route-out
  names the receiving unit: the case row carries both (`Case.confidential`, `Case.confidential_unit`, indexed;
  see docs/roles-and-visibility.md). From then on the case is on the discipline track: only people holding a role
  *directly* in the receiving unit see it, and the auditor (read-only, for the journal). Subunit inheritance does
  not count here: the person accused may well sit higher up in the same county.

Refusals are 403 with a message saying why, and are logged.
"""
from __future__ import annotations

import logging

from sqlalchemy import and_, bindparam, exists, false, not_, or_, select, true

from engine.runtime import NotFound
from engine.store import Case, ProcessDefinition, WorkItem
from infra.driver_reads import DriverSelect
from services.orgchart import OrgChart
from services.roles import UNIT_OR_HEAD
from services.supervision import supervising_role, supervisor_of

from .auth import ApiError, Principal

log = logging.getLogger("lianxin.access")

SEE_ALL = ("admin", "auditor", "designer")
READ_ONLY = ("auditor",)


# Who may take a task that someone else has claimed and hand it to a colleague: the supervising offices of the
# task's unit (and the administrator, who repairs cases).
SUPERVISING_ROLES = ("county_office", "bureau", "leader")


# The clock acts (services/clock_governance.py decides where and how they are allowed; these are who): a deadline of
# a process without statutory limits is extended by the supervising offices, never by the units they assess; the
# clock stops for a 复核 hearing by the re-review body, the bureau or the administrator; only the administrator
# corrects a deadline.
CLOCK_EXTENDING_ROLES = ("bureau", "jointmeeting")
CLOCK_STOPPING_ROLES = ("review_body", "bureau", "admin")


# Repairs (the case page's actions and the incident pages): retrying an incident changes no data, so the city bureau,
# which supervises cases, may do it as well as the administrator; on a confidential case (the discipline track) only
# the people of the unit that holds it may, since nobody else may read it. Correcting a deadline, repairing data
# and moving a case change what the case decides on: the administrator's alone.
INCIDENT_RETRY_ROLES = ("admin", "bureau")
REPAIR_ROLES = ("admin",)
# The petition offices that issue a 督办 by hand (services/manual_supervision.py finds which office for which unit).
SUPERVISION_ISSUING_ROLES = ("bureau", "county_office", "jointmeeting")


def may_retry_incidents(s, p: Principal, case_id: int) -> bool:
    units = discipline_units(s, case_id)
    if units is not None:
        return bool(units & direct_units(p))
    return p.has_role(*INCIDENT_RETRY_ROLES)


# 撤回 (services/withdrawal.py): the petitioner withdraws; the office that registered the petition confirms it (and ends
# the handling) or declines it with a reason. Its registrars and the bureau there decide; the unit the matter was
# assigned to (the assessed unit) does not end its own case (the county office, where it registered, does), the read-only roles and the administrator (who repairs
# cases, and decides no matter) do not, and the petitioner only asks (the portal).
WITHDRAWAL_DECIDING_ROLES = ("registrar", "bureau", "county_office")


def may_decide_withdrawal(p: Principal, registering_unit: str | None) -> bool:
    return bool(registering_unit) and any(p.holds(role, registering_unit) for role in WITHDRAWAL_DECIDING_ROLES)


def may_correct_deadlines(p: Principal) -> bool:
    return p.has_role(*REPAIR_ROLES)


def issues_supervision(p: Principal) -> bool:
    """Works in an office that issues 督办 at all (told "nothing to supervise" rather than refused)."""
    return p.has_role(*SUPERVISION_ISSUING_ROLES)


def may_extend_clocks(p: Principal) -> bool:
    return p.has_role(*CLOCK_EXTENDING_ROLES)


def may_stop_clocks(p: Principal) -> bool:
    return p.has_role(*CLOCK_STOPPING_ROLES)


# 问责 (services/accountability.py): recorded in the name of the office that supervises the unit (the petition office
# one level up, as `supervisor_of` finds it for the case or in general), or of the bureau for the units in its area;
# never by the unit itself, never against a unit outside the caller's area.
ACCOUNTABILITY_REPORT_ROLES = ("bureau", "county_office", "jointmeeting", "leader", "admin", "auditor")


def accountability_office(p: Principal, chart: OrgChart, unit: str, assigning_unit: str | None = None) -> str | None:
    """The office in whose name `p` may record accountability against `unit`, or None (refused)."""
    if not chart.has(unit) or unit in direct_units(p) or only_reads(p):
        return None
    for office in (supervisor_of(chart, unit, assigning_unit), supervisor_of(chart, unit)):
        if office is not None and office.code != unit and p.holds(supervising_role(chart, office.code), office.code):
            return office.code
    if p.holds("bureau", unit):  # the bureau, for every unit of its area
        own = sorted(u for r, u, _ in p.roles if r == "bureau" and chart.has(u)
                     and chart.get(u).kind == "petition_office" and u != unit)
        return own[0] if own else None
    return None


def may_read_accountability(p: Principal) -> bool:
    """The annual per-unit accountability report: the supervising offices, leaders, the administrator, the auditor;
    each reads the units they serve (`units_scope`)."""
    return p.has_role(*ACCOUNTABILITY_REPORT_ROLES)


def sees_all(p: Principal) -> bool:
    """Every case and work item (but the discipline track), in every unit: the one role set for it."""
    return p.has_role(*SEE_ALL)


def units_scope(p: Principal | None) -> set[str] | None:
    """The units whose registers, lists and statistics `p` reads: None for every unit (who `sees_all`, and the
    system itself), else the units `p` serves."""
    if p is None or sees_all(p):
        return None
    return set(p.units)


def only_reads(p: Principal) -> bool:
    """A user whose every role only reads (the auditor): refused every change."""
    return bool(p.roles) and p.role_names <= set(READ_ONLY)


def may_write(p: Principal) -> bool:
    return bool(p.role_names - set(READ_ONLY))


def works_on_cases(p: Principal | None) -> bool:
    """Holds a role that works on cases: not only the administrator's (who repairs cases) or a read-only role.
    Such a user may read personal data in full where the masking rule allows; the others never do."""
    return p is not None and bool(p.role_names - {"admin", *READ_ONLY})


def direct_units(p: Principal) -> set[str]:
    return {unit for _, unit, _ in p.roles}


def own_or_headed_units(p: Principal) -> set[str]:
    """The units whose work items asking for `UNIT_OR_HEAD` `p` may do: those where `p` holds a working role
    directly (not through a higher unit's subunits: the office above is not the unit), and those `p` heads
    (role leader, with its subunits)."""
    own = {unit for role, unit, _ in p.roles if role not in SEE_ALL}
    return own | {unit for role, unit in p.role_units if role == "leader"}


def refuse(p: Principal, what: str, message: str) -> ApiError:
    log.warning("refused %s to %s", what, p.username)
    return ApiError(403, "forbidden", message)


# ---------------------------------------------------------------- the discipline track

def _confidential_ids(units: set[str] | None = None):
    """The ids of confidential cases (those of `units` only, when given): a small set, read through the indexed
    columns of the case row (engine.store.Case.confidential, confidential_unit), never through the journal."""
    q = select(Case.id).where(Case.confidential.is_(True))
    return q.where(Case.confidential_unit.in_(sorted(units))) if units is not None else q


def on_discipline_track(case_id_column):
    """SQL condition: the case is confidential (for anyone; see `outside_discipline_track`)."""
    if case_id_column is Case.id:
        return Case.confidential.is_(True)
    return case_id_column.in_(_confidential_ids())


def _discipline_unit_match(case_id_column, units: set[str]):
    """The confidential case went to one of `units` (the case row names the receiving unit)."""
    if not units:
        return false()
    if case_id_column is Case.id:
        return Case.confidential_unit.in_(sorted(units))
    return case_id_column.in_(_confidential_ids(units))


def discipline_units(s, case_id: int) -> set[str] | None:
    """None when the case is not confidential; else the unit it went to (empty when no unit was named yet, e.g.
    the route-out failed)."""
    row = s.execute(select(Case.confidential, Case.confidential_unit).where(Case.id == case_id)).first()
    return None if row is None else _track_units(row.confidential, row.confidential_unit)


def _track_units(confidential: bool | None, unit: str | None) -> set[str] | None:
    if not confidential:
        return None
    return {unit} if unit else set()


def _may_see_discipline(p: Principal, units: set[str]) -> bool:
    return p.has_role(*READ_ONLY) or bool(units & direct_units(p))


# ---------------------------------------------------------------- cases

def _units_filter(p: Principal, unit_column):
    return unit_column.in_(sorted(p.units)) if p.units else false()


def case_filter(p: Principal):
    """SQL condition on `Case` for the cases `p` may see (use in lists and searches)."""
    track = on_discipline_track(Case.id)
    discipline_ok = true() if p.has_role(*READ_ONLY) else _discipline_unit_match(Case.id, direct_units(p))
    if sees_all(p):
        ordinary = true()
    else:
        ordinary = or_(Case.started_by == p.username,
                       exists().where(WorkItem.case_id == Case.id,
                                      or_(_units_filter(p, WorkItem.unit), WorkItem.assignee == p.username)))
    return or_(and_(not_(track), ordinary), and_(track, discipline_ok))


def can_see_case(s, p: Principal, case) -> bool:
    """`case`: the case row, or a row of `_SEEN_BY` (its id, registrant and discipline-track columns, as read)."""
    units = _track_units(case.confidential, case.confidential_unit)
    if units is not None:
        return _may_see_discipline(p, units)
    if sees_all(p) or case.started_by == p.username:
        return True
    hit = s.scalar(select(WorkItem.id).where(
        WorkItem.case_id == case.id, or_(_units_filter(p, WorkItem.unit), WorkItem.assignee == p.username)).limit(1))
    return hit is not None


def visible_case(s, p: Principal, case_id: int) -> Case:
    """The case if `p` may see it; 404 when it does not exist, 403 (logged) when it is not theirs."""
    case = s.get(Case, case_id)
    _check_visible(s, p, case_id, case)
    return case


# What deciding whether a case may be seen reads of its row, in one statement built once: not the workflow state,
# the row's largest column (a view that reads the case reads it itself).
_SEEN_BY = select(Case.id, Case.started_by, Case.confidential, Case.confidential_unit) \
    .where(Case.id == bindparam("case_id"))
_SEEN_BY_READ = DriverSelect(_SEEN_BY)  # the case guard of every API view of a case (infra/driver_reads.py)


def check_visible_case(s, p: Principal, case_id: int) -> None:
    """`visible_case` without handing out the case: the same 404 and 403 (logged), from the columns the rule reads."""
    rows = _SEEN_BY_READ.rows(s, {"case_id": case_id})
    _check_visible(s, p, case_id, rows[0] if rows else None)


def _check_visible(s, p: Principal, case_id: int, case) -> None:
    if case is None:
        raise NotFound(f"案件 {case_id} 不存在（no such case）")
    if not can_see_case(s, p, case):
        raise refuse(p, f"case {case_id}", "您无权查看此案件：它不属于您服务的单位（this case is outside your units）")


# ---------------------------------------------------------------- work items

def work_item_role_filter(p: Principal):
    """SQL condition on `WorkItem`: items of a unit `p` serves with no role asked, or whose role `p` holds in the
    item's unit (roles and units as pairs, never separately)."""
    return or_(*_role_branches(p))


def _role_branches(p: Principal) -> list:
    """`work_item_role_filter` as its parts, one per role asked (none, the unit-or-head marker, each role `p`
    holds): disjoint, since an item asks one role."""
    by_role: dict[str, set[str]] = {UNIT_OR_HEAD: set(own_or_headed_units(p))}
    for role, unit in p.role_units:
        by_role.setdefault(role, set()).add(unit)
    return [and_(WorkItem.role.is_(None), _units_filter(p, WorkItem.unit)),
            *[and_(WorkItem.role == role, WorkItem.unit.in_(sorted(units))) for role, units in by_role.items()]]


def unit_work_item_filters(p: Principal) -> list:
    """The task list's `unit` scope (the items of the roles `p` holds in its units) as disjoint SQL conditions on
    `WorkItem`, one per role asked: together the same items as `work_item_filter(p)` and
    `work_item_role_filter(p)`, but each answerable from an index on (state, role, unit, due_at, id, case_id), so that
    100,000 open items are neither read row by row to be counted nor sorted for a page (issue #21)."""
    outside = outside_discipline_track(p, WorkItem.case_id)
    return [and_(branch, outside) for branch in _role_branches(p)]


def work_item_filter(p: Principal):
    """SQL condition on `WorkItem` for the work items `p` may see."""
    mine = WorkItem.assignee == p.username
    base = true() if sees_all(p) else or_(work_item_role_filter(p), mine)
    return and_(base, outside_discipline_track(p, WorkItem.case_id))


def may_act_on(p: Principal, item: WorkItem) -> bool:
    """Claim, complete, hand over: the assignee, or someone holding the item's role in the item's unit (or in a
    parent unit with include_subunits); admins too. The auditor only reads."""
    if p.has_role("admin"):
        return True
    if not (p.role_names - set(READ_ONLY)):
        return False
    if item.assignee == p.username:
        return True
    if item.role is None:
        return item.unit in p.units
    if item.role == UNIT_OR_HEAD:
        return item.unit in own_or_headed_units(p)
    return p.holds(item.role, item.unit)


def holds_in_own_right(p: Principal, item: WorkItem) -> bool:
    """`p` holds `item` as its assignee, or of its unit with its role, in a role that works on cases. Unlike
    `may_act_on`, the administrator's right to repair any task does not count: it is no reason to read the
    petitioner's details (web/personal_data.py)."""
    if item.assignee == p.username:
        return True
    if not works_on_cases(p):
        return False
    working = p.role_names - {"admin", *READ_ONLY}
    if item.role == UNIT_OR_HEAD:
        return item.unit in own_or_headed_units(p)
    if item.role is None:
        return any(p.holds(role, item.unit) for role in working)
    return item.role in working and p.holds(item.role, item.unit)


def may_hand_over(p: Principal, item: WorkItem) -> bool:
    """Hand over a task someone else has claimed: the administrator, or a supervising office of its unit."""
    return p.has_role("admin") or any(p.holds(r, item.unit) for r in SUPERVISING_ROLES)


# A work item with its case's discipline-track columns (`discipline_units`) and the id and content hash of the
# case's deployment (whose form the item names: web/desk/handling.py `form_schema`), in one statement built once.
_ITEM_WITH_TRACK = (select(WorkItem, Case.confidential, Case.confidential_unit,
                           ProcessDefinition.id.label("definition_id"), ProcessDefinition.content_hash)
                    .outerjoin(Case, Case.id == WorkItem.case_id)
                    .outerjoin(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
                    .where(WorkItem.id == bindparam("item_id")))


def work_item_for_action(s, p: Principal, item_id: int) -> WorkItem:
    """The work item if `p` may act on it (`may_act_on`), and the case is not on a discipline track hidden from
    them; 404 when it does not exist, 403 (logged) otherwise."""
    row = s.execute(_ITEM_WITH_TRACK, {"item_id": item_id}).first()
    if row is None:
        raise NotFound(f"任务 {item_id} 不存在（no such task）")
    item = row[0]
    # read with it, kept on the item for this request (not a column): the form checks need not ask again
    item.case_deployment = (row.definition_id, row.content_hash) if row.definition_id is not None else None
    units = _track_units(row.confidential, row.confidential_unit)
    if (units is not None and not _may_see_discipline(p, units)) or not may_act_on(p, item):
        raise refuse(p, f"task {item_id}",
                     "此任务不属于您的单位或角色（this task is not for your unit or role）")
    return item


# ---------------------------------------------------------------- listings that name cases (ids, titles, status)

def visible_case_ids(s, p: Principal, case_ids) -> set[int]:
    """Of `case_ids`, those `p` may see (the same rule as `case_filter`). A listing that names cases (the
    designer's migration check) shows these and only counts the others."""
    return _case_ids_where(s, case_ids, case_filter(p))


def case_ids_outside_discipline_track(s, p: Principal, case_ids) -> set[int]:
    """Of `case_ids` (ids of existing cases), those not hidden from `p` by the discipline track: for listings
    already limited to the caller's units by their own rule (the statistics count the cases of the units a
    bureau serves, also those it never handled, such as a petition resolved at the city desk). The few
    confidential cases hidden from `p` are read through the indexed flag and left out, so that a figure behind
    100,000 cases costs one query, not one per 500 ids."""
    wanted = {int(i) for i in case_ids if i is not None}
    if p.has_role(*READ_ONLY) or not wanted:
        return wanted
    return wanted - discipline_hidden_ids(s, p)


def discipline_hidden_ids(s, p: Principal) -> frozenset[int]:
    """The ids of the confidential cases on the discipline track hidden from `p` (a small set, read through the
    indexed flag): what `case_ids_outside_discipline_track` leaves out of any list of case ids."""
    if p.has_role(*READ_ONLY):
        return frozenset()
    return frozenset(s.scalars(select(Case.id).where(Case.confidential.is_(True),
                                                     not_(_discipline_unit_match(Case.id, direct_units(p))))))


def _case_ids_where(s, case_ids, condition) -> set[int]:
    wanted = sorted({int(i) for i in case_ids if i is not None})
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        found.update(s.scalars(select(Case.id).where(Case.id.in_(wanted[start:start + 500]), condition)))
    return found


def outside_discipline_track(p: Principal, case_id_column):
    """SQL condition: the case is not on the discipline track, or `p` may see it there. For listings already
    limited to the caller's units by their own rule (the registers), which must not name an accusation."""
    if p.has_role(*READ_ONLY):
        return true()
    return or_(not_(on_discipline_track(case_id_column)), _discipline_unit_match(case_id_column, direct_units(p)))


# ---------------------------------------------------------------- urgent matters (重大紧急事项, services/urgent.py)

# A matter is flagged as urgent by the people who meet it first: the desk's registrar and the unit's handler, on a
# case they may see. The live board of open urgent matters is the petition offices' (the desk, the county office,
# the bureau, the joint-meeting office) and the leaders' (who are reported to), and the administrator's and
# auditor's; each sees the matters of the cases they may see (`case_filter`), never an accusation's.
URGENT_FLAGGING_ROLES = ("registrar", "unit_handler")
URGENT_BOARD_ROLES = ("registrar", "county_office", "bureau", "jointmeeting", "leader", "admin", "auditor")


def urgent_flagging_unit(p: Principal | None) -> str | None:
    """The unit in which `p` flags an urgent matter (that of their first registrar's or handler's role; its level's
    petition office reports it); None when `p` may not flag."""
    if p is None:
        return None
    return next((unit for role, unit, _ in p.roles if role in URGENT_FLAGGING_ROLES), None)


def may_see_urgent_board(p: Principal | None) -> bool:
    return p is not None and p.has_role(*URGENT_BOARD_ROLES)


def urgent_board_condition(p: Principal, case_id_column):
    """SQL condition on a register row's case: the flagged cases `p` may see."""
    return case_id_column.in_(select(Case.id).where(case_filter(p)))
