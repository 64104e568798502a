"""What the inbox page and its API share: the filters read from the query string, and where each notice leads
(the user's open task of its case when there is one, else the case page, else nowhere)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import request, url_for
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.store import WorkItem
from services import inbox

from ..auth import ApiError, Principal
from ..http import container, query_day
from ..visibility import may_act_on, visible_case_ids, work_item_filter

PER_PAGE = 30


def read_sessions():
    c = container()
    return c.extras.get("read_sessions", c.session_factory)



def _whole(name: str, default: int) -> int:
    text = request.args.get(name)
    if text in (None, ""):
        return default
    if not text.isdigit():
        raise ApiError(400, "malformed", f"{name} 必须是非负整数（{name} must be a whole number）")
    return int(text)


def filters(*, per_page: int | None = None) -> inbox.Filters:
    """unread=1 or show=unread; kind (a key of services.inbox.KINDS); from/to (Beijing days, both included);
    limit/offset (API) or page (the page)."""
    unread = request.args.get("unread", "") in ("1", "true", "yes") or request.args.get("show") == "unread"
    kind = (request.args.get("kind") or "").strip() or None
    since, until = query_day("from"), query_day("to")
    if since and until and until < since:
        raise ApiError(400, "malformed", "截止日期早于起始日期，请调换后再查（to is before from）")
    if per_page is None:
        limit, offset = _whole("limit", 50), _whole("offset", 0)
    else:
        page = max(_whole("page", 1), 1)
        limit, offset = per_page, (page - 1) * per_page
    try:
        return inbox.Filters(
            unread_only=unread, kind=kind,
            since=datetime.combine(since, time(), SHANGHAI) if since else None,
            until=datetime.combine(until + timedelta(days=1), time(), SHANGHAI) if until else None,
            limit=limit, offset=offset)
    except ValueError as exc:
        raise ApiError(400, "malformed", str(exc), {"kinds": list(inbox.KINDS)}) from None


def with_links(items: list[dict], p: Principal) -> list[dict]:
    """Each notice gets `task_id` and `link`: the open task of its case that `p` may work on (the one the notice
    names when several are open), else its case page when `p` sees the case, else no link."""
    case_ids = {i["case_id"] for i in items if i.get("case_id")}
    open_items: list[WorkItem] = []
    visible: set[int] = set()
    if case_ids:
        with read_sessions()() as s:
            visible = visible_case_ids(s, p, case_ids)
            if visible:
                open_items = [w for w in s.scalars(select(WorkItem).where(
                    WorkItem.case_id.in_(sorted(visible)), WorkItem.state == "open", work_item_filter(p))
                    .order_by(WorkItem.id)) if may_act_on(p, w)]
    for item in items:
        mine = [w for w in open_items if w.case_id == item.get("case_id")]
        task = next((w for w in mine if item.get("task_label") and w.name == item["task_label"]), None) or \
            (mine[0] if mine else None)
        item["task_id"] = task.id if task else None
        item["task_name"] = task.name if task else None
        if task is not None:
            item["link"] = url_for("handling.task_form", task_id=task.id)
        elif item.get("case_id") in visible:
            item["link"] = url_for("casepage.case_page", case_id=item["case_id"])
        else:
            item["link"] = None
    return items
