"""Rebuilding a case from its journal, to show it as it stood after any event and to check the stored state.

The journal holds every input the engine ever received: the start data, each submitted task with its data, each
timer firing and message with the instant it happened, each handler's recorded result (or failure), and each
change to a deadline. Replaying those inputs on the case's definition version, with the clock set to the
recorded instants and handlers answered from the record, must arrive at the state that is stored. If it does
not, the stored state was changed outside the engine.

Each journaled command is decoded into the command object the runtime executed (engine.commands.from_event) and
applied with the same `apply`: replay has no copy of the commands of its own.

Task ids are random, so states are compared by what matters: which elements are live and in what state, the
data each live task holds, and whether the process is complete.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from .commands import Command, from_event, replayed_types
from .context import CommandContext, command_scope
from .errors import NotApplicable, NotFound, ReplayError
from .journal import to_json
from .state import prune_finished_history
from .store import Case, JournalEvent
from .tree import advance, all_tasks, view_data

__all__ = ["COMMANDS", "ReplayError", "Replayer", "Snapshot"]

COMMANDS = replayed_types()
LIVE = ~(TaskState.COMPLETED | TaskState.CANCELLED)


@dataclass
class Snapshot:
    """A case as it stood after event `seq`."""

    seq: int
    at: datetime | None
    status: str
    active: list[dict]                # live elements: {element_id, name, state}
    completed: list[str]              # element ids completed up to here, in order
    data: dict[str, Any]
    flows: list[str] = field(default_factory=list)  # sequence flows taken up to here
    events: list[dict] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)  # each deadline as computed by then (see _track_deadline)

    def to_dict(self) -> dict:
        return {"seq": self.seq, "at": self.at.isoformat() if self.at else None, "status": self.status,
                "active": self.active, "completed": self.completed, "flows": self.flows, "data": self.data,
                "deadlines": self.deadlines}


@dataclass
class _Progress:
    """What a rebuild has found so far, besides the workflow."""
    flow_ids: dict
    flows: list[str] = field(default_factory=list)
    deadlines: dict[str, dict] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    status: str = "running"
    last_at: datetime | None = None

    def track(self, r: JournalEvent) -> None:
        _track_deadline(self.deadlines, r)
        if r.type == "task.completed" and r.element_id:
            self.completed.append(r.element_id)
        if r.type.startswith("task.") and r.element_id:
            came_from = json.loads(r.data).get("from")
            fid = self.flow_ids.get((came_from, r.element_id))
            if fid and fid not in self.flows:
                self.flows.append(fid)
        if r.type == "case.completed":
            self.status = "completed"
        elif r.type == "incident.opened":
            self.status = "incident"
        elif r.type in ("incident.retried", "case.moved"):
            self.status = "waiting"
        self.last_at = r.at


def _groups(rows: list[JournalEvent], upto: int | None):
    """Each event that starts a command (or the first event), with the events up to the next command."""
    i = 0
    while i < len(rows):
        ev = rows[i]
        if upto is not None and ev.seq > upto:
            return
        j = i + 1
        while j < len(rows) and rows[j].type not in COMMANDS:
            j += 1
        yield ev, rows[i + 1:j]
        i = j


class Replayer:
    def __init__(self, runtime):
        self.rt = runtime

    def events(self, case_id: int) -> tuple[Case, list[JournalEvent]]:
        with self.rt.read_sessions() as s:
            case = s.get(Case, case_id)
            rows = list(s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                                  .order_by(JournalEvent.seq)))
            s.expunge_all()
        return case, rows

    def rebuild(self, case_id: int, upto: int | None = None) -> tuple[BpmnWorkflow | None, Snapshot]:
        case, rows = self.events(case_id)
        if case is None:
            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        with self.rt.read_sessions() as s:
            specs = self.rt.load_definition(s, case.definition_id)
        progress = _Progress({(src, dst): fid
                              for fid, src, dst in self.rt.definitions.meta[case.definition_id].get("flows", [])})
        wf: BpmnWorkflow | None = None
        clock_stopped = False
        for ev, produced in _groups(rows, upto):
            if ev.type in COMMANDS:
                command = from_event(ev.type, ev.element_id, json.loads(ev.data))
                wf, clock_stopped = self._replay(case_id, specs, wf, command, ev, produced, clock_stopped)
            for r in [ev, *produced]:
                if upto is not None and r.seq > upto:
                    break
                progress.track(r)
        status = progress.status
        if status == "running" and wf is not None:
            status = "completed" if wf.is_completed() else "waiting"
        last_seq = rows[-1].seq if rows else 0
        snap = Snapshot(seq=min(upto, last_seq) if (upto is not None and rows) else last_seq,
                        at=progress.last_at, status=status, active=_live(wf) if wf is not None else [],
                        completed=progress.completed, data=view_data(wf) if wf is not None else {},
                        flows=progress.flows)
        waiting = {a["element_id"] for a in snap.active if a["state"] == "waiting"}
        snap.deadlines = [dict(d, running=d["element_id"] in waiting) for d in progress.deadlines.values()]
        return wf, snap

    def _replay(self, case_id: int, specs: tuple, wf: BpmnWorkflow | None, command: Command, ev: JournalEvent,
                produced: list[JournalEvent], clock_stopped: bool) -> tuple[BpmnWorkflow, bool]:
        """Apply one journaled command as the runtime did: same instant, same recorded answers, same `apply`."""
        data = json.loads(ev.data)
        recorded = [json.loads(r.data) for r in produced if r.type == "service.called"]
        now = datetime.fromisoformat(data["now"]) if "now" in data else ev.at
        ctx = CommandContext(case_id, ev.actor, now, recorded_results=recorded, clock_stopped=clock_stopped)
        with command_scope(ctx):
            if command.creates_case:
                wf = BpmnWorkflow(specs[0], specs[1], script_engine=self.rt.script_engine)
            elif wf is None:
                raise ReplayError(ev.seq, "日志不以 case.started 开头（journal does not begin with case.started）")
            try:
                command.apply(wf, ctx)
            except NotApplicable as err:
                raise ReplayError(ev.seq, str(err).replace("{seq}", str(ev.seq))) from None
            try:
                advance(wf)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # an incident then: the journal says so too
                pass
            prune_finished_history(wf)
            if recorded:
                raise ReplayError(ev.seq, f"重放后仍有 {len(recorded)} 个记录的服务结果未被使用"
                                          f"（replay did not make {len(recorded)} recorded service calls）")
        return wf, ctx.clock_stopped

    def verify(self, case_id: int) -> tuple[bool, int | None, str]:
        """Rebuild the whole case and compare it with the stored state."""
        try:
            wf, snap = self.rebuild(case_id)
        except ReplayError as err:
            return False, err.seq, err.message
        except Exception as err:  # the journal cannot be replayed at all
            return False, None, f"重放失败（replay failed）：{err.__class__.__name__}: {err}"
        with self.rt.read_sessions() as s:
            case = s.get(Case, case_id)
            try:
                stored = self.rt._load(s, case)
            except Exception as err:  # noqa: BLE001 - a stored state that does not even load was changed
                return False, snap.seq if wf is not None else None, (
                    f"存储的状态无法读取（stored state cannot be read: {err.__class__.__name__}），"
                    f"与日志重放结果不一致")
        if wf is None:
            return False, 1, "日志为空（empty journal）"
        mine, theirs = _fingerprint(wf), _fingerprint(stored)
        if mine != theirs:
            detail = _first_difference(mine, theirs)
            return False, snap.seq, f"存储的状态与日志重放结果不一致：{detail}（stored state differs from the replayed journal）"
        return True, None, ""



def _track_deadline(deadlines: dict[str, dict], r: JournalEvent) -> None:
    """Each deadline as the journal says it stood: computed (with the calendar versions used), then extended,
    paused, resumed or recomputed after a calendar change. Keyed by the timer's element."""
    if not r.type.startswith("deadline"):
        return
    data = json.loads(r.data)
    if r.type == "deadline.computed":
        element_id = data.get("element_id") or r.element_id
        if element_id:
            deadlines[element_id] = {
                "element_id": element_id, "seq": r.seq, "rule": data.get("rule"), "n": data.get("n"),
                "start": data.get("start"), "due_at": data.get("due_at"),
                "calendar_versions": data.get("calendar_versions", {}), "provisional": data.get("provisional"),
                "explanation": data.get("explanation", ""), "history": []}
        return
    one = r.type in ("deadline.extended", "deadline.corrected")  # one timer, named by the event's element
    changes = [dict(data, element_id=r.element_id)] if one else data.get("deadlines", [])
    for change in changes:
        d = deadlines.get(change.get("element_id"))
        if d is None:
            continue
        d["history"].append({"seq": r.seq, "type": r.type, "old_due_at": change.get("old_due_at") or d["due_at"],
                             "new_due_at": change.get("new_due_at")})
        if r.type == "deadlines.paused":
            d["paused"] = True
            continue
        d["paused"] = False
        d["due_at"] = change.get("new_due_at") or d["due_at"]
        if "calendar_versions" in change:
            d["calendar_versions"] = change["calendar_versions"]
        if "provisional" in change:
            d["provisional"] = change["provisional"]
        if change.get("explanation"):
            d["explanation"] = change["explanation"]


def _live(wf: BpmnWorkflow) -> list[dict]:
    out = []
    for t in all_tasks(wf):
        element_id = getattr(t.task_spec, "bpmn_id", None)
        if element_id and t.state & LIVE and t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED,
                                                          TaskState.ERROR):
            out.append({"element_id": element_id, "name": getattr(t.task_spec, "bpmn_name", None) or element_id,
                        "state": TaskState.get_name(t.state).lower()})
    return sorted(out, key=lambda d: (d["element_id"], d["state"]))


def _fingerprint(wf: BpmnWorkflow) -> dict:
    live = {}
    for t in all_tasks(wf):
        element_id = getattr(t.task_spec, "bpmn_id", None)
        if element_id and t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
            key = f"{element_id}:{TaskState.get_name(t.state)}"
            live.setdefault(key, []).append(to_json(_sorted(t.data)))
    return {"completed": wf.is_completed(), "live": {k: sorted(v) for k, v in sorted(live.items())},
            "workflow_data": to_json(_sorted(wf.data))}


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _first_difference(mine: dict, theirs: dict) -> str:
    if mine["completed"] != theirs["completed"]:
        return f"办结状态不同（completed: replay {mine['completed']}, stored {theirs['completed']}）"
    a, b = mine["live"], theirs["live"]
    if set(a) != set(b):
        return f"进行中的环节不同（live elements: replay {sorted(a)}, stored {sorted(b)}）"
    for key in a:
        if a[key] != b[key]:
            return f"环节 {key.split(':')[0]} 的数据不同（data of {key} differs）"
    return "流程数据不同（workflow data differs）"
