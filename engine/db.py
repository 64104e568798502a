"""The SQLAlchemy declarative base: one `MetaData` for every table of Lianxin.

The engine's own models live in `engine.store` (definitions, cases, work items, timers, journal, outbox) and
`engine.calendar.models` (days); the infrastructure's (`infra.accounts`, `infra.access_log`, ...) and the petition
domain's (`services.store`) use this same `Base`, so that one Alembic history (`infra.migrations`) covers them
all. Connecting to a database is the infrastructure's business: `infra.db`.
"""
from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
