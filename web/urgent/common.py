"""What the urgent area's page and API share: flagging a case, and the board's rows for the caller."""
from __future__ import annotations

from engine.store import CaseRegister
from services import urgent

from .. import visibility
from ..auth import ApiError, Principal
from ..http import container


def flag(p: Principal, case_id: int, kind: str, reason: str) -> dict:
    """Flag the case (the caller may see it: checked before) as an urgent matter: 403 for who may not flag, the
    service's refusals (409, 422) as they are."""
    unit = visibility.urgent_flagging_unit(p)
    if unit is None:
        raise visibility.refuse(p, f"urgent flag of case {case_id}",
                                "标记重大紧急事项由登记员或承办单位的承办人提出；您可以请他们标记，或直接联系本级信访部门。")
    c = container()
    try:
        with c.session_factory() as s, s.begin():
            return urgent.flag(c.runtime, s, case_id, p.username, unit, kind, reason, c.clock.now())
    except urgent.FlagRefused as refused:
        code = {409: "conflict", 422: "invalid"}[refused.status]
        raise ApiError(refused.status, code, refused.message) from None


def board_rows(p: Principal) -> list[dict]:
    if not visibility.may_see_urgent_board(p):
        raise visibility.refuse(p, "urgent board", "重大紧急事项看板供信访部门和领导查看。")
    c = container()
    with c.extras["read_sessions"]() as s:
        return urgent.board(s, c.clock.now(), visibility.urgent_board_condition(p, CaseRegister.case_id))
