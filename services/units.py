"""Units as the desk's forms and rules need them: where a problem can have happened (counties, cities, the
province), every unit's name, and the petition office a registrar registers for."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, false, or_, select

from infra.accounts import Unit
from infra.driver_reads import DriverSelect
from services.orgchart import default_chart

CITY_BUREAU = "city_bureau"


def locations(s) -> list[tuple[str, str]]:
    """`(code, name)` of the places a petition's problem can be located in: the province, the cities, the
    counties, in that order (the tiers of the org chart, services.orgchart)."""
    rows = s.execute(_LOCATIONS, {"kinds": list(default_chart().tier_levels())}).all()
    return [(code, name) for code, name in rows]


# The statements of a registration's checks, built once (the values go in as parameters).
_LOCATIONS = select(Unit.code, Unit.name).where(Unit.kind.in_(bindparam("kinds", expanding=True))) \
    .order_by(Unit.kind.desc(), Unit.code)
_OFFICES = select(Unit.code).where(Unit.code.in_(bindparam("units", expanding=True)),
                                   Unit.kind == "petition_office").order_by(Unit.code)


def unit_names(s) -> dict[str, str]:
    return dict(s.execute(select(Unit.code, Unit.name)).all())


def registering_office(s, units: Collection[str]) -> str:
    """The petition office among `units` (where the registrar holds a registering role), else the city bureau."""
    offices = s.scalars(_OFFICES, {"units": sorted(units)}).all()
    return offices[0] if offices else CITY_BUREAU


# A registration asks both: the office it is registered for, and the places its problem may be located in. One
# statement gives both (the rows of either kind, in the places' order), sent through the driver (infra/driver_reads.py:
# compiled once, about a tenth of SQLAlchemy's per-statement work); each value a parameter of its own, so the SQL is
# the same for every registrar with as many registering units (an expanding `IN` list is rendered anew every run).
_OFFICE_AND_PLACES: dict[tuple[int, int], DriverSelect] = {}


def _office_and_places(kinds: int, units: int) -> DriverSelect:
    found = _OFFICE_AND_PLACES.get((kinds, units))
    if found is None:
        place = or_(*(Unit.kind == bindparam(f"tier_{i}") for i in range(kinds))) if kinds else false()
        office = (Unit.kind == "petition_office") & or_(*(Unit.code == bindparam(f"office_{i}") for i in range(units))) \
            if units else false()
        found = _OFFICE_AND_PLACES[(kinds, units)] = DriverSelect(
            select(Unit.code, Unit.name, Unit.kind).where(or_(place, office)).order_by(Unit.kind.desc(), Unit.code))
    return found


def office_and_locations(s, units: Collection[str]) -> tuple[str, list[tuple[str, str]]]:
    """`registering_office(s, units)` and `locations(s)`, in one statement."""
    kinds, codes = default_chart().tier_levels(), sorted(set(units))
    values = {f"tier_{i}": kind for i, kind in enumerate(kinds)} | {f"office_{i}": code for i, code in enumerate(codes)}
    rows = _office_and_places(len(kinds), len(codes)).rows(s, values)
    tiers, mine = set(kinds), set(codes)
    offices = [r.code for r in rows if r.kind == "petition_office" and r.code in mine]
    return (offices[0] if offices else CITY_BUREAU), [(r.code, r.name) for r in rows if r.kind in tiers]
