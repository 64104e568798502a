"""The four lists (四个清单): who answers for what, kept up to date by the processes.

* 包案 — leader case-ownership list (领导包案责任清单): case, case-owning leader, task force, milestones.
* 稳控 — stabilisation list (稳控责任清单): **responsibility records only** — which unit and leader answer for
  resolving the matter and keeping the work orderly. It never records where a petitioner is or goes: the 2022
  regulation forbids retaliation and obstruction (Art. 18, 46), and tracking petitioners is out of scope.
* 化解 — resolution list (化解责任清单): case, responsible unit, status, due dates.
* 督办 — supervision list (督办责任清单): reminders, supervision notices, listed supervision.

Beside them, the accountability records (问责: 约谈、通报、限期整改、追责建议, services/accountability.py) close the
chain 明责、履责、督责、问责; they are read like the lists (`project`, the register `accountability`).

Where the lists live: every change is a `register` effect (`ctx.emit`), written by the engine into the
`case_register` table in the same transaction as the step (one row per case, register and key; `unit` and
`person` indexed for queries per unit and per leader) and journaled as an `effect.register` event. The handler
also returns the updated `four_lists` dict, which the BPMN keeps in the task data (resultVariable `four_lists`)
so that a designer sees the state of the branch in the case data. Parallel branches (the 13710 track, a
reminder) carry their own copies of that dict; the register table and `project(history)` (from the journal)
merge them.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.handlers import HandlerContext

KINDS = {"包案": "领导包案责任清单", "稳控": "稳控责任清单", "化解": "化解责任清单", "督办": "督办责任清单"}
# 问责 is not a fifth list: it is the fourth responsibility of 明责、履责、督责、问责 (services/accountability.py),
# kept in a register of its own and shown beside the four lists.
ACCOUNTABILITY = "问责"
REGISTERS = {"包案": "leader_case", "稳控": "stabilisation", "化解": "resolution", "督办": "supervision",
             ACCOUNTABILITY: "accountability"}
KIND_OF_REGISTER = {v: k for k, v in REGISTERS.items()}
TITLES = {**KINDS, ACCOUNTABILITY: "问责记录"}
# A row with one of these statuses is closed in its register (it leaves the open list: 销号清零).
CLOSED_STATUSES = {"已办结", "不予受理", "终结", "已化解", "已化解，销号", "已反馈", "已提醒", "已摘牌"}
# Fields that may never appear in a list row: the lists are about offices and leaders, not petitioners.
FORBIDDEN_FIELDS = {"petitioner", "petitioners", "id_number", "phone", "address", "whereabouts", "location_of_person"}


def empty() -> dict:
    return {kind: {} for kind in KINDS}


def upsert(lists: dict | None, kind: str, key: str, row: dict, now_iso: str) -> dict:
    """A new `four_lists` with the row (merged over an existing row of the same key)."""
    if kind not in KINDS:
        raise ValueError(f"没有“{kind}”清单（unknown list {kind}; use one of {', '.join(KINDS)}）")
    bad = FORBIDDEN_FIELDS & set(row)
    if bad:
        raise ValueError(f"清单只记录单位和领导的责任，不得记录信访人信息：{', '.join(sorted(bad))}"
                         f"（lists hold responsibilities, never petitioner data）")
    out = empty()
    for k, rows in (lists or {}).items():
        if k in out and isinstance(rows, dict):
            out[k] = copy.deepcopy(rows)
    merged = dict(out[kind].get(key, {}))
    merged.update({k: v for k, v in row.items() if v is not None})
    merged.setdefault("created_at", now_iso)
    merged.update(list=kind, key=key, updated_at=now_iso)
    out[kind][key] = merged
    return out


@dataclass
class ListEntryInput:
    kind: str
    key: str
    unit: str | None = None
    leader: str | None = None
    status: str | None = None
    item: str | None = None
    due: str | None = None
    case_no: str | None = None
    details: dict | None = None


def emit_row(ctx: HandlerContext, lists: dict, kind: str, key: str) -> dict:
    """Ask the engine to write the row (as it now stands in `lists`) into its register; returns `lists`."""
    row = lists[kind][key]
    fields = dict(register=REGISTERS[kind], key=key, unit=row.get("unit"), person=row.get("leader"), data=row)
    ctx.emit("register", action="open", **fields)  # creates the row, or keeps it open
    if row.get("status") in CLOSED_STATUSES:
        ctx.emit("register", action="close", **fields)
    return lists


def put(ctx: HandlerContext, kind: str, key: str, row: dict, lists: dict | None = None) -> dict:
    """Upsert a row into the case's `four_lists` (task data, or `lists` when a handler changes several rows)
    and into its register table."""
    lists = upsert(lists if lists is not None else ctx.data.get("four_lists"), kind, key, row, ctx.now.isoformat())
    return emit_row(ctx, lists, kind, key)


def record_list_entry(inp: ListEntryInput, ctx: HandlerContext) -> dict:
    """记入或更新四个清单中的一行 (add or update a row of the four lists); returns the updated lists."""
    row = {"case_id": ctx.case_id, "case_no": inp.case_no or ctx.data.get("case_no"), "unit": inp.unit,
           "leader": inp.leader, "status": inp.status, "item": inp.item, "due": inp.due}
    if inp.details:
        row.update(inp.details)
    return put(ctx, inp.kind, inp.key, row)


# ---------------------------------------------------------------- the read side

def project(history: Iterable[dict]) -> list[dict]:
    """Every list row of one case as its register holds it, from the case journal (`GET /api/cases/{id}/history`
    events, oldest first): the `effect.register` events, the last one of each (list, key) winning."""
    rows: dict[tuple[str, str], dict] = {}
    for event in history:
        if event.get("type") != "effect.register":
            continue
        payload = (event.get("data") or {}).get("payload") or {}
        kind = KIND_OF_REGISTER.get(payload.get("register"))
        if kind is None:
            continue
        row = dict(payload.get("data") or {}, list=kind, key=payload.get("key"),
                   open=payload.get("action") != "close")
        rows[(kind, row["key"])] = row
    return sorted(rows.values(), key=lambda r: (r["list"], str(r.get("created_at")), r["key"]))


def query(rows: Iterable[dict], *, kind: str | None = None, unit: str | None = None, leader: str | None = None,
          units_under: Any = None, status: str | None = None) -> list[dict]:
    """Filter list rows: by list kind, by unit (exactly, or any of `units_under`, e.g. a county and its
    departments), by leader and by status."""
    out = []
    for row in rows:
        if kind is not None and row.get("list") != kind:
            continue
        if unit is not None and row.get("unit") != unit:
            continue
        if units_under is not None and row.get("unit") not in set(units_under):
            continue
        if leader is not None and row.get("leader") != leader:
            continue
        if status is not None and row.get("status") != status:
            continue
        out.append(row)
    return out
