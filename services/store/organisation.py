"""The journal of organisation imports (`lianxin org import`, the admin page /admin/organisation): one row per
applied import with who applied it, when, from which file, and every unit and membership it added, changed or
removed (services/org_import.py writes it; the admin page shows it). Its newest id is also the organisation's
revision: the DB-backed org chart (services/orgchart.py) rebuilds itself when it moves."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT


class OrgChange(Base):
    __tablename__ = "org_change"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    actor: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(256), default="")
    # JSON: {"units": {"added": [...], "changed": [...], "removed": [...]}, "memberships": {...}, "users": {...}}
    changes: Mapped[str] = mapped_column(Text, default="{}")
