"""Loads the organisation (units, demo users) from `processes/organisation.yaml`. Idempotent."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra import yaml_docs
from infra.accounts import Membership, Unit, User, hash_password

DEMO_PASSWORD = "demo"


def load_organisation(s: Session, path: Path, *, demo_users: bool = False) -> dict:
    doc = yaml_docs.safe_load(path.read_text(encoding="utf-8")) or {}
    units = doc.get("units", [])
    known = {u.code for u in s.scalars(select(Unit))}
    added_units = 0
    for u in units:  # parents are listed before children in the file
        row = s.get(Unit, u["code"])
        if row is None:
            row = Unit(code=u["code"])
            s.add(row)
            added_units += 1
        row.name, row.kind, row.parent_code, row.adcode = u["name"], u["kind"], u.get("parent"), u.get("adcode")
        known.add(u["code"])
        s.flush()
    added_users = 0
    if demo_users:
        demo_hash = hash_password(DEMO_PASSWORD)  # hashing is deliberately slow: once per load, not per user
        for du in doc.get("demo_users", []):
            user = s.scalar(select(User).where(User.username == du["username"]))
            if user is None:
                user = User(username=du["username"], display_name=du["name"],
                            password_hash=demo_hash, active=True, demo=True)
                s.add(user)
                s.flush()
                added_users += 1
            user.demo = True  # also a demo account loaded before accounts were marked
            for r in du.get("roles", []):
                exists = s.scalar(select(Membership).where(Membership.user_id == user.id,
                                                           Membership.unit_code == r["unit"],
                                                           Membership.role == r["role"]))
                if exists is None:
                    s.add(Membership(user_id=user.id, unit_code=r["unit"], role=r["role"],
                                     include_subunits=bool(r.get("subunits", False))))
    return {"units": len(units), "added_units": added_units, "added_users": added_users}


def demo_logins(path: Path) -> list[tuple[str, str]]:
    doc = yaml_docs.safe_load(path.read_text(encoding="utf-8")) or {}
    return [(u["username"], u["name"]) for u in doc.get("demo_users", [])]
