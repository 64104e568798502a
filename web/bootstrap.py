"""The composition root: builds the database, clock, handler registry, calendar and runtime once.

The web app, the CLI and the worker all start here; nothing is built at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from engine.clock import Clock, OffsetClock, SystemClock
from engine.handlers import HandlerRegistry
from engine.runtime import Runtime
from engine.store import Setting
from infra.accounts import MembershipDirectory
from infra.db import make_engine, make_read_session_factory, make_session_factory
from infra.keys import MASTER_KEY, MASTER_KEY_FILE, PREVIOUS_MASTER_KEYS, Vault, provider_from_env
from services import register_all

from .settings import Settings

CLOCK_OFFSET_KEY = "clock_offset_seconds"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    clock: Clock
    handlers: HandlerRegistry
    runtime: Runtime
    calendar: object
    extras: dict = field(default_factory=dict)

    def set_clock(self, when: datetime) -> datetime:
        """Move the shared demo clock (clock control only): stored as an offset so every process agrees."""
        if hasattr(self.clock, "set"):
            self.clock.set(when)
            return self.clock.now()
        offset = (when - SystemClock().now()).total_seconds()
        with self.session_factory() as s, s.begin():
            row = s.get(Setting, CLOCK_OFFSET_KEY)
            if row is None:
                s.add(Setting(key=CLOCK_OFFSET_KEY, value=str(offset)))
            else:
                row.value = str(offset)
        return self.clock.now()


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              handlers: HandlerRegistry | None = None) -> Container:
    settings = settings or Settings.from_env()
    if settings.database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    from engine.journal import SEALER_INFO_KEY, Sealer

    # Every session that writes the journal (the runtime's too) seals its events with a key derived from the
    # secret key, hashing and sealing with the configured suite (LIANXIN_CRYPTO).
    sealer = Sealer(settings.secret_key, settings.previous_secret_keys, settings.crypto_suite)
    session_factory = make_session_factory(engine, info={SEALER_INFO_KEY: sealer})
    read_sessions = make_read_session_factory(engine)
    if clock is None:
        clock = OffsetClock(_offset_reader(read_sessions)) if settings.allow_clock_control else SystemClock()
    handlers = handlers or register_all(HandlerRegistry())
    from engine.calendar import CalendarService

    calendar = CalendarService(read_sessions)
    from infra.delivery import templated_notify
    from services.notify_templates import TemplateCatalogue

    # Notifications are checked against the versioned templates at the step that asks for them.
    templates = TemplateCatalogue.load(settings.processes_dir / "templates")
    from services import (
        case_numbers,
        confidential_routes,
        element_meanings,
        lane_roles,
        notices,
        org_coverage,
        parties,
        repeat_originals,
        route_outs,
        routing_check,
        simulations,
        work_placement,
    )
    from services.deadline_settings import decision_rules, yellow_lead_days
    from services.orgchart import ChartSource

    # Personal data at rest: parties' fields sealed under data keys wrapped by the master key (infra/keys.py).
    vault = Vault(provider_from_env({MASTER_KEY: settings.master_key, MASTER_KEY_FILE: settings.master_key_file,
                                     PREVIOUS_MASTER_KEYS: " ".join(settings.previous_master_keys)},
                                    settings.var_dir))
    # The organisation as the database holds it (loaded by `lianxin init`, replaced by `lianxin org import`): the
    # handlers' port "organisation", rebuilt when the organisation changes.
    org_chart = ChartSource(read_sessions, settings.processes_dir / "organisation.yaml")
    # The yellow alert threshold is the lead time of processes/settings.dmn, the table the processes read.
    runtime = Runtime(session_factory, clock, handlers, calendar=calendar, read_session_factory=read_sessions,
                      ports={case_numbers.PORT: case_numbers.key_from_secret(settings.secret_key, settings.crypto_suite),
                             parties.VAULT_PORT: vault, "organisation": org_chart},
                      effect_sinks={"notify": templated_notify(templates),
                                    repeat_originals.LINK_EFFECT: repeat_originals.link_sink},
                      yellow_workdays=yellow_lead_days(settings.processes_dir),
                      decision_rules=decision_rules(),  # the settings table's types and bounds
                      bundle_checks=[  # what the processes declare beside their diagrams, checked at deploy
                          element_meanings.deploy_check(settings.processes_dir / element_meanings.FILE_NAME),
                          confidential_routes.deploy_check(),  # accusations stay confidential
                          # the routes out (诉访分离) the forms offer are the maintained list's
                          route_outs.deploy_check(settings.processes_dir / route_outs.FILE_NAME),
                          notices.deploy_check(settings.processes_dir / notices.FILE_NAME,
                                               settings.processes_dir / "templates"),
                          # the units a routing table suggests must be in the organisation
                          routing_check.deploy_check(settings.processes_dir / "organisation.yaml"),
                          # no (role, unit) the routing table can produce without a holder (services/org_coverage.py)
                          org_coverage.deploy_check(read_sessions, org_chart.current)],
                      # the roles and the designers' lane table, for models whose lanes and tasks name roles their way
                      role_catalogue=lane_roles.catalogue(settings.processes_dir),
                      directory=MembershipDirectory,  # who holds a role where, for notices to offices
                      # every task has a person: work nobody can do goes to the petition office above, flagged
                      placement=work_placement.WorkPlacement,
                      # the synthetic cases a new version must carry before it goes live (processes/simulations.yaml)
                      simulations=simulations.plan_for(settings.processes_dir))
    return Container(settings, engine, session_factory, clock, handlers, runtime, calendar,
                     extras={"read_sessions": read_sessions, "notification_templates": templates, "vault": vault,
                             "org_chart": org_chart})


def _offset_reader(session_factory):
    def read() -> timedelta:
        with session_factory() as s:
            row = s.scalar(select(Setting).where(Setting.key == CLOCK_OFFSET_KEY))
            return timedelta(seconds=float(row.value)) if row else timedelta(0)

    return read
