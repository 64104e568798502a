"""A few demo cases in different states, made through the runtime like real work (no hand-written rows)."""
from __future__ import annotations

from sqlalchemy import select

from engine.store import WorkItem
from services.demo_cases import load_petition_cases

DEMO_CASES = [
    {"title": "企业拖欠工资三个月", "category": "劳动社保", "location": "county_a", "channel": "visit"},
    {"title": "小区电梯长期停用", "category": "城乡建设", "location": "county_a", "channel": "online"},
    {"title": "养老保险转移接续", "category": "劳动社保", "location": "county_b", "channel": "letter"},
    {"title": "道路施工噪音扰民", "category": "环境保护", "location": "county_a", "channel": "phone"},
]


def load_demo_cases(c) -> list[str]:
    rt = c.runtime
    views = [rt.start("simple_case", data, actor="registrar") for data in DEMO_CASES]
    # Case 1: signed and replied, waiting for the bureau's sign-off.
    _complete_open(c, views[0].id, {"signed": True}, "handler")
    _complete_open(c, views[0].id, {"outcome": "支持", "reply_text": "已责成企业限期支付。"}, "handler")
    # Case 2: signed, being handled.
    _complete_open(c, views[1].id, {"signed": True}, "handler")
    return [f"演示案件（简易流程）：{len(views)} 件"] + load_petition_cases(c.runtime)


def _complete_open(c, case_id: int, data: dict, actor: str) -> None:
    with c.session_factory() as s:
        item = s.scalar(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open")
                        .order_by(WorkItem.id).limit(1))
    c.runtime.complete(item.id, data, actor=actor)
