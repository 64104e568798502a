"""Every task has a person, also at run time: where a new work item goes when nobody can do it where its process
puts it (the engine's port "placement", `engine.ports.WorkPlacement`, handed in by `web.bootstrap`).

Read in the command's own session, on the organisation in the database (`lianxin org import` changes it between
deployments):

1. Someone holds the item's role in its unit itself: the item stays.
2. The unit is a petition office (信访部门) and the role is one of the office's own work (`OFFICE_WORK`: handling
   as 承办单位, registering, the bureau's checks) that nobody holds there (a county office that is itself the
   responsible unit signs and handles; after 二次交办 it decides objections and signs off as the assigning
   office): its own staff do it in their office role (`office_role`: county_office at a county, bureau at a
   city or province), not the city's supervisors who hold `bureau` over every unit below. Not an orphan.
3. Someone holds the role in an ancestor unit with subunits: the item stays.
4. Otherwise the item is orphaned (无人可办): it goes to the nearest petition office above the unit whose office
   role someone holds (the county's 信访局 for a department or township of the county, the city's for a county
   office without staff, ...), flagged with the unit and role it was meant for. The engine journals it
   (`work_item.orphaned`); the admin's report `/admin/orphans` lists it for good, and hands it back once the unit
   has someone for the role.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.ports import Placement
from infra.accounts import Membership, MembershipDirectory, Unit, User
from infra.driver_reads import DriverSelect

from .orgchart import OrgChart, OrgUnit, default_chart
from .roles import UNIT_OR_HEAD

UNIT_OR_HEAD_ROLES = ("unit_handler", "leader")

PETITION_OFFICE = "petition_office"
# The role a petition office's own staff hold: county_office at the lowest tier of the organisation (the county),
# bureau above it (the city's, the province's).
LOWEST_TIER_OFFICE_ROLE, UPPER_TIER_OFFICE_ROLE = "county_office", "bureau"
# The roles whose work at a petition office is the office's own (not a leader's, a joint meeting's, a review body's).
OFFICE_WORK = frozenset({"unit_handler", "registrar", "county_office", "bureau"})


def office_role(chart: OrgChart, office: str) -> str | None:
    """The role of the office's staff, by the tier its level is (organisation.yaml `tiers:`, bottom up)."""
    try:
        kind = chart.level_of(office).kind
    except LookupError:
        return None
    levels = chart.tier_levels()
    if kind not in levels:
        return None
    return LOWEST_TIER_OFFICE_ROLE if kind == levels[0] else UPPER_TIER_OFFICE_ROLE


# Someone active holds `role` in `unit` itself. Built once, on the tables, and sent through the driver in the
# session's transaction (infra/driver_reads.py: compiled once, none of SQLAlchemy's per-statement work): every new
# work item asks (a registration's first task, a completion's next), and building the query, then running it as a
# Core statement, cost more than the database's answer.
_MEMBERS, _USERS = Membership.__table__, User.__table__
_HELD_DIRECTLY = DriverSelect(select(_MEMBERS.c.id).join(_USERS, _USERS.c.id == _MEMBERS.c.user_id)
                              .where(_MEMBERS.c.unit_code == bindparam("unit"), _MEMBERS.c.role == bindparam("role"),
                                     _USERS.c.active.is_(True)).limit(1))


def chart_in(s: Session) -> OrgChart:
    """The organisation as stored (units), with the tiers of the shipped chart."""
    chart = OrgChart(tiers=default_chart().tiers)
    for u in s.scalars(select(Unit)):
        chart.units[u.code] = OrgUnit(u.code, u.name, u.kind, u.parent_code, u.adcode)
    return chart


class WorkPlacement:
    def __init__(self, session: Session):
        self._session = session
        self._people = MembershipDirectory(session)
        self._chart: OrgChart | None = None

    def holders(self, unit: str, role: str) -> list[str]:
        return self._people.users(unit, role)

    def chart(self) -> OrgChart:
        if self._chart is None:
            self._chart = chart_in(self._session)
        return self._chart

    def held_directly(self, unit: str, role: str) -> bool:
        s = self._session
        if s.autoflush:  # as the ORM does before a query: a membership added in this transaction counts
            s.flush()
        return bool(_HELD_DIRECTLY.rows(s, {"unit": unit, "role": role}))

    def place(self, unit: str, role: str) -> Placement | None:
        if role == UNIT_OR_HEAD:  # the unit's own people or its head (a supervision feedback): held through either
            return None if any(self.holders(unit, r) for r in UNIT_OR_HEAD_ROLES) else self.place(unit, "unit_handler")
        if self.held_directly(unit, role):
            return None
        chart = self.chart()
        if not chart.has(unit):
            return None if self.holders(unit, role) else Placement(
                unit, role, True, f"单位 {unit} 不在组织机构中（unknown unit）")
        own = chart.get(unit)
        if own.kind == PETITION_OFFICE and role in OFFICE_WORK:
            staff = office_role(chart, unit)
            if staff and staff != role and self.holders(unit, staff):
                return Placement(unit, staff, False, f"{own.name}的信访工作人员以 {staff} 办理")
        if self.holders(unit, role):
            return None
        for office in offices_above(chart, unit):
            staff = office_role(chart, office.code)
            if staff and self.holders(office.code, staff):
                return Placement(office.code, staff, True,
                                 f"{own.name}没有人担任 {role}，交由{office.name}（{staff}）办理")
        return Placement(unit, role, True, f"{own.name}及其上级信访部门都没有人可以办理（nobody above either）")


def offices_above(chart: OrgChart, unit: str) -> list[OrgUnit]:
    """The petition offices above the unit, nearest first: its own level's office (unless it is that office),
    then each level up."""
    out: list[OrgUnit] = []
    try:
        level: OrgUnit | None = chart.level_of(unit)
    except LookupError:
        return out
    while level is not None:
        office = chart.child_of_kind(level.code, PETITION_OFFICE)
        if office is not None and office.code != unit:
            out.append(office)
        level = chart.level_up(level.code)
    return out
