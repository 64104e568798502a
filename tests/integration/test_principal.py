"""The principal (web/auth.py load_principal): roles and served units read in one query, subunits at any depth
walked by the database. Checked for every demo user against the unit tree expanded here from the organisation
file, and after the tree changes (a new subunit is served at once, no cache to go stale)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from infra.accounts import Membership, Unit, User
from services.organisation import load_organisation
from web.auth import load_principal

ROOT = Path(__file__).resolve().parents[2]


def expected_units(s, user) -> set[str]:
    children: dict[str, set[str]] = {}
    for code, parent in s.execute(select(Unit.code, Unit.parent_code)):
        children.setdefault(parent, set()).add(code)
    units: set[str] = set()
    for m in s.scalars(select(Membership).where(Membership.user_id == user.id)):
        units.add(m.unit_code)
        todo = list(children.get(m.unit_code, ())) if m.include_subunits else []
        while todo:
            u = todo.pop()
            if u not in units:
                units.add(u)
                todo.extend(children.get(u, ()))
    return units


def test_roles_and_served_units_of_every_demo_user(container):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    with container.session_factory() as s:
        users = s.scalars(select(User)).all()
        assert len(users) >= 15
        for user in users:
            p = load_principal(s, user)
            memberships = {(m.role, m.unit_code, m.include_subunits)
                           for m in s.scalars(select(Membership).where(Membership.user_id == user.id))}
            assert set(p.roles) == memberships and len(p.roles) == len(memberships), user.username
            assert p.units == expected_units(s, user), user.username
        county = load_principal(s, s.scalar(select(User).where(User.username == "county")))
        handler = load_principal(s, s.scalar(select(User).where(User.username == "handler")))
    assert "county_a_hrss" in county.units and "county_b" not in county.units
    assert handler.units == {"county_a_hrss"}  # a unit handler serves its own unit only
    with container.session_factory() as s, s.begin():  # the tree grows: a unit two levels below the county
        s.add(Unit(code="county_a_hrss_team", name="劳动监察队", kind="department", parent_code="county_a_hrss"))
    with container.session_factory() as s:
        county = load_principal(s, s.scalar(select(User).where(User.username == "county")))
        handler = load_principal(s, s.scalar(select(User).where(User.username == "handler")))
    assert "county_a_hrss_team" in county.units and "county_a_hrss_team" not in handler.units
