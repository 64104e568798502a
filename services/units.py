"""Units as the desk's forms and rules need them: where a problem can have happened (counties, cities, the
province), every unit's name, and the petition office a registrar registers for."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select

from infra.accounts import Unit
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
