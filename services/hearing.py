"""Hearings (听证) in re-review: the time a hearing takes is not counted in the 30-day re-review limit
(《信访工作条例》第三十六条). The diagram stops the clock itself: it notes when the hearing starts, and when it
ends this handler adds the days the hearing took to the days by which the re-review deadline is extended.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext


@dataclass
class HearingInput:
    started_at: str
    total: int = 0


def hearing_days(inp: HearingInput, ctx: HandlerContext) -> int:
    """听证结束：听证占用的日历天数（开始和结束当日都计入）加到复核期限的顺延天数上，返回顺延总天数。"""
    started = datetime.fromisoformat(str(inp.started_at))
    if started > ctx.now:
        raise ValueError(f"听证开始时间 {inp.started_at} 晚于结束时间（the hearing cannot end before it starts）")
    if not isinstance(inp.total, int) or isinstance(inp.total, bool) or inp.total < 0:
        raise ValueError(f"已顺延天数应为非负整数，收到 {inp.total!r}（total must be a whole number ≥ 0）")
    days = (ctx.now.astimezone(SHANGHAI).date() - started.astimezone(SHANGHAI).date()).days + 1
    return inp.total + days
