"""Who may receive a work item handed over: the active users of a unit (for a reassignment, holding the item's
role), as `(username, display name)` pairs in name order."""
from __future__ import annotations

from sqlalchemy import select

from infra.accounts import Membership, User


def colleagues_in(s, unit: str | None, role: str | None = None) -> list[tuple[str, str]]:
    q = select(User.username, User.display_name).join(Membership, Membership.user_id == User.id).where(
        Membership.unit_code == unit, User.active.is_(True))
    if role:
        q = q.where(Membership.role == role)
    return sorted(set(s.execute(q).all()))
