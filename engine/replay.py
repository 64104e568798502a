"""Rebuilding a case from its journal, to show it as it stood after any event and to check the stored state.

The journal holds every input the engine ever received: the start data, each submitted task with its data, each
timer firing and message with the instant it happened, each handler's recorded result (or failure), and each
change to a deadline. Replaying those inputs on the case's definition version, with the clock set to the
recorded instants and handlers answered from the record, must arrive at the state that is stored. If it does
not, the stored state was changed outside the engine.

Task ids are random, so states are compared by what matters: which elements are live and in what state, the
data each live task holds, and whether the process is complete.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from . import spiff_patches
from .journal import to_json
from .runtime import _all_tasks, _view_data
from .state import prune_finished_history
from .store import Case, JournalEvent

COMMANDS = {"case.started", "task.submitted", "timer.fired", "message.delivered", "incident.retried",
            "deadlines.paused", "deadlines.resumed", "deadline.extended", "deadlines.recomputed"}
LIVE = ~(TaskState.COMPLETED | TaskState.CANCELLED)


class ReplayError(Exception):
    def __init__(self, seq: int, message: str):
        super().__init__(message)
        self.seq = seq
        self.message = message


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
        from .runtime import PAUSED_UNTIL, _advance, _Command, _current, _set_event_value

        case, rows = self.events(case_id)
        if case is None:
            from .runtime import NotFound

            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        with self.rt.read_sessions() as s:
            spec, subprocess_specs = self.rt.load_definition(s, case.definition_id)
        flow_ids = {(src, dst): fid for fid, src, dst in self.rt._meta[case.definition_id].get("flows", [])}
        flows: list[str] = []
        deadlines: dict[str, dict] = {}
        wf: BpmnWorkflow | None = None
        completed: list[str] = []
        paused = False
        last_at = None
        status = "running"
        i = 0
        while i < len(rows):
            ev = rows[i]
            if upto is not None and ev.seq > upto:
                break
            data = json.loads(ev.data)
            # the events a command produced, up to the next command
            j = i + 1
            while j < len(rows) and rows[j].type not in COMMANDS:
                j += 1
            produced = rows[i + 1:j]
            if ev.type in COMMANDS:
                recorded = [json.loads(r.data) for r in produced if r.type == "service.called"]
                now = datetime.fromisoformat(data["now"]) if "now" in data else ev.at
                cmd = _Command(case_id, ev.actor, now, recorded_results=recorded)
                token_cmd = _current.set(cmd)
                token_now = spiff_patches.set_command_instant(now)
                try:
                    if ev.type == "case.started":
                        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=self.rt.script_engine)
                        wf.get_next_task(state=TaskState.READY).data.update(copy.deepcopy(data.get("data", {})))
                    elif wf is None:
                        raise ReplayError(ev.seq, "日志不以 case.started 开头（journal does not begin with case.started）")
                    elif ev.type == "task.submitted":
                        task = self._ready_task(wf, ev.element_id, ev.seq)
                        task.set_data(**copy.deepcopy(data.get("data", {})))
                        task.run()
                    elif ev.type == "timer.fired":
                        spiff_patches.refresh_due_timers(wf)
                    elif ev.type == "message.delivered":
                        self._deliver(wf, data["name"], data.get("payload", {}), ev.seq)
                    elif ev.type == "incident.retried":
                        for task in _all_tasks(wf):
                            if task.state == TaskState.ERROR:
                                task._set_state(TaskState.READY)
                    else:  # deadline changes: set the timer's value as the command did
                        if ev.type == "deadlines.paused":
                            paused = True
                        elif ev.type == "deadlines.resumed":
                            paused = False
                        for change in self._deadline_changes(ev, data, paused):
                            for task in _all_tasks(wf):
                                if task.state == TaskState.WAITING and task.task_spec.bpmn_id == change[0]:
                                    _set_event_value(wf, str(task.id), PAUSED_UNTIL if change[1] is None
                                                     else change[1])
                    try:
                        _advance(wf)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except BaseException:  # an incident then: the journal says so too
                        pass
                    prune_finished_history(wf)
                    if recorded:
                        raise ReplayError(ev.seq, f"重放后仍有 {len(recorded)} 个记录的服务结果未被使用"
                                                  f"（replay did not make {len(recorded)} recorded service calls）")
                finally:
                    spiff_patches.reset_command_instant(token_now)
                    _current.reset(token_cmd)
            for r in [ev] + list(produced):
                if upto is not None and r.seq > upto:
                    break
                _track_deadline(deadlines, r)
                if r.type == "task.completed" and r.element_id:
                    completed.append(r.element_id)
                if r.type.startswith("task.") and r.element_id:
                    came_from = json.loads(r.data).get("from")
                    fid = flow_ids.get((came_from, r.element_id))
                    if fid and fid not in flows:
                        flows.append(fid)
                if r.type == "case.completed":
                    status = "completed"
                elif r.type == "incident.opened":
                    status = "incident"
                elif r.type == "incident.retried":
                    status = "waiting"
                last_at = r.at
            i = j
        if status == "running" and wf is not None:
            status = "completed" if wf.is_completed() else "waiting"
        snap = Snapshot(seq=min(upto, rows[-1].seq) if (upto is not None and rows) else (rows[-1].seq if rows else 0),
                        at=last_at, status=status, active=_live(wf) if wf is not None else [],
                        completed=completed, data=_view_data(wf) if wf is not None else {}, flows=flows)
        waiting = {a["element_id"] for a in snap.active if a["state"] == "waiting"}
        snap.deadlines = [dict(d, running=d["element_id"] in waiting) for d in deadlines.values()]
        return wf, snap

    @staticmethod
    def _deadline_changes(ev, data: dict, paused: bool) -> list[tuple[str, str | None]]:
        if ev.type == "deadlines.paused":
            return [(d["element_id"], None) for d in data.get("deadlines", [])]
        if ev.type in ("deadlines.resumed", "deadlines.recomputed"):
            return [(d["element_id"], d["new_due_at"]) for d in data.get("deadlines", [])]
        if ev.type == "deadline.extended" and not paused:  # a paused timer keeps its pause value
            return [(ev.element_id, data["new_due_at"])]
        return []

    @staticmethod
    def _ready_task(wf: BpmnWorkflow, element_id: str, seq: int):
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            if task.task_spec.bpmn_id == element_id:
                return task
        raise ReplayError(seq, f"重放到第 {seq} 号事件时，{element_id} 不是待办任务（task not ready on replay）")

    @staticmethod
    def _deliver(wf: BpmnWorkflow, name: str, payload: dict, seq: int) -> None:
        from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition

        for task in _all_tasks(wf):
            definition = getattr(task.task_spec, "event_definition", None)
            if task.state == TaskState.WAITING and isinstance(definition, MessageEventDefinition) \
                    and definition.name == name:
                wf.send_event(BpmnEvent(definition, payload))
                return
        raise ReplayError(seq, f"重放时案件没有在等待消息 {name}（message not awaited on replay）")

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
    changes = [dict(data, element_id=r.element_id)] if r.type == "deadline.extended" else data.get("deadlines", [])
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
    for t in _all_tasks(wf):
        element_id = getattr(t.task_spec, "bpmn_id", None)
        if element_id and t.state & LIVE and t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED,
                                                          TaskState.ERROR):
            out.append({"element_id": element_id, "name": getattr(t.task_spec, "bpmn_name", None) or element_id,
                        "state": TaskState.get_name(t.state).lower()})
    return sorted(out, key=lambda d: (d["element_id"], d["state"]))


def _fingerprint(wf: BpmnWorkflow) -> dict:
    live = {}
    for t in _all_tasks(wf):
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
