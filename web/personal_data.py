"""Petitioners' personal data in every answer about a case: the rule of `services.masking` applied to the signed-in
user, and every full view recorded in the access log.

Each serializer that puts case data into a response (the JSON API's case views and command answers, the case
page, the task form, notices, history, replay and exports) asks `shows_in_full(p, case_id)` once per response and
masks with `services.masking.mask_personal_data` when the answer is no (`case_view`, `case_data` do both). A full
view is written to the access log *before* it is shown (`what` ends in `.full`); when that write fails the data is
shown masked rather than unrecorded. The access-log row and the security-log event that links it
(`personal_data_view`) are written in one transaction: the data is shown in full only when both are.

The answer to a command (a task completion) asks and records inside the command's own transaction
(`shows_in_full_in`), under a savepoint: the record commits with the command, so the answer waits for one commit
(on PostgreSQL one WAL flush, about as long as the rest of the answer's server work) instead of two, and a record
that cannot be written is rolled back alone, the command kept and its answer masked, as before.
"""
from __future__ import annotations

import logging

from flask import g, has_request_context, request
from sqlalchemy import and_, bindparam, false, or_, select
from sqlalchemy.exc import SQLAlchemyError

from engine.store import Case, WorkItem
from infra import access_log
from infra.driver_reads import DriverSelect
from services import element_meanings, masking, parties

from . import security_events, visibility
from .auth import Principal
from .http import container

log = logging.getLogger("lianxin.access")


# Who registered the case and its open tasks that contact the petitioner, in one statement: one row per such task,
# or one row with no task (the WorkItem columns NULL); none for a case that does not exist. The case row's workflow
# state, the largest column, is not read. Built once per set of contact elements (the meanings file names them; it
# seldom changes), each element a parameter of its own, and sent through the driver (infra/driver_reads.py, which
# needs the same SQL for every run: an expanding `IN` list is rendered anew for each).
_READERS_BY_ELEMENTS: dict[tuple[str, ...], DriverSelect] = {}


def _readers_of_case(elements: tuple[str, ...]) -> DriverSelect:
    found = _READERS_BY_ELEMENTS.get(elements)
    if found is None:
        contact = or_(*(WorkItem.element_id == e for e in elements)) if elements else false()
        found = _READERS_BY_ELEMENTS[elements] = DriverSelect(
            select(Case.started_by, WorkItem.id, WorkItem.assignee, WorkItem.role, WorkItem.unit)
            .outerjoin(WorkItem, and_(WorkItem.case_id == Case.id, WorkItem.state == "open", contact))
            .where(Case.id == bindparam("case_id")))
    return found


def full_view_allowed(s, p: Principal | None, case_id: int) -> bool:
    """The rule of `services.masking.sees_in_full` for `p` and this case (no logging: see `shows_in_full`)."""
    if not visibility.works_on_cases(p):
        return False
    elements = tuple(sorted(element_meanings.elements("contacts_petitioner")))
    rows = _readers_of_case(elements).rows(s, {"case_id": case_id})
    if not rows:
        return False
    items = [row for row in rows if row.id is not None]
    return masking.sees_in_full(registered_it=rows[0].started_by == p.username,
                                registering_role=bool(p.role_names & masking.REGISTERING_ROLES),
                                holds_contact_task=any(visibility.holds_in_own_right(p, item) for item in items))


def shows_in_full(p: Principal | None, case_id: int) -> bool:
    """Whether this response may carry the case's personal data in full; if so, the view is recorded first."""
    with container().extras["read_sessions"]() as s:
        if not full_view_allowed(s, p, case_id):
            return False
    return _recorded(p, case_id)


def shows_in_full_in(s, p: Principal | None, case_id: int) -> bool:
    """`shows_in_full` inside the caller's write transaction `s` (a session; a command's, whose changes the rule
    then reads): the view is recorded under a savepoint of `s`, and commits with it. The caller shows the data in
    full only once `s` has committed; a record that cannot be written is rolled back alone (the rest of `s` kept)
    and the answer is masked."""
    return full_view_allowed(s, p, case_id) and _recorded(p, case_id, s)


def _recorded(p: Principal, case_id: int, within=None) -> bool:
    """`record_full_view`; False (logged) when it could not be written: the answer is then masked."""
    try:
        record_full_view(p, case_id, within)
    except SQLAlchemyError:
        log.exception("access log: a full view of case %s could not be recorded; shown masked", case_id)
        return False
    return True


def record_full_view(p: Principal, case_id: int, within=None) -> None:
    """One access-log row per response that shows a case's personal data in full, and the security-log event that
    links it, in one transaction: both are written or neither (and then this raises: the caller shows the data
    masked). `within`: a session in a transaction, where the two are written under a savepoint (see
    `shows_in_full_in`); else in a transaction of their own."""
    recorded = g.setdefault("full_views", set()) if has_request_context() else set()
    if case_id in recorded:
        return
    c = container()
    endpoint = request.endpoint if has_request_context() else None
    what = f"{endpoint or 'unknown'}"[:43] + ".full"
    if within is None:
        with c.engine.begin() as s:  # a connection, not an ORM session: two plain INSERTs, nothing to flush or load
            _write_full_view(s, c, p, case_id, what)
    else:
        with within.begin_nested():
            _write_full_view(within, c, p, case_id, what)
    recorded.add(case_id)
    if has_request_context():
        g.access_recorded = True  # this row stands for the request's access-log row


def _write_full_view(s, c, p: Principal, case_id: int, what: str) -> None:
    access_log.record(s, at=c.clock.now(), username=p.username, case_id=case_id, what=what,
                      method=request.method if has_request_context() else "-",
                      path=request.full_path.rstrip("?") if has_request_context() else "-", status=200,
                      remote_addr=(request.remote_addr if has_request_context() else None) or "-")
    # the access log has the row; this links it
    security_events.record_in(s, "personal_data_view", actor=p.username, detail={"case_id": case_id, "what": what})


def resolved(case_id: int, value):
    """`value` with the case's parties' plain fields in place of their masked copies (services/parties.py); only
    for a response that `shows_in_full` allowed."""
    c = container()
    with c.extras["read_sessions"]() as s:
        return parties.resolve_case(s, c.extras["vault"], case_id, value)


def case_data(p: Principal | None, case_id: int, data, full: bool | None = None):
    """`data` (case data, a snapshot, journal entries) as `p` may read it: full, recorded, or masked. `full`: what
    `shows_in_full_in` answered for this response (the view already recorded), else asked here."""
    if full is None:
        full = shows_in_full(p, case_id)
    return resolved(case_id, data) if full else masking.mask_personal_data(data)


def view_dict(view) -> dict:
    """`CaseView.to_dict()` without its deep copy of the case data, timers and deadlines (a few milliseconds per
    answer on a case with much data): the answer is built from them and changes none of them (masking and
    resolving parties make new values), so the copy was never needed."""
    return view.shared_dict()


def case_view(p: Principal | None, view: dict, full: bool | None = None) -> dict:
    """A case view (`CaseView.to_dict()`) for a JSON answer: its data and everything else in it (task names,
    incident messages) masked unless `p` reads this case in full (`full`: as in `case_data`)."""
    return case_data(p, view["id"], view, full)
