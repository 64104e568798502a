"""人民建议征集 (suggestions from the public, 《信访工作条例》第二十九条): a matter registered with the nature
建议意见 runs the process `suggestion` (processes/suggestion.bpmn) instead of the petition process: the unit
concerned studies it (评估), its head adopts it or not (采纳/不采纳), an adopted one may be rewarded (奖励, with its
form and amount), and the proposer is told. A suggestion is no grievance: no 60-day handling limit, no review or
re-review (复查/复核), no rating; the statistics count it apart (services.stats `suggestion_figures`).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.handlers import HandlerContext

PROCESS = "suggestion"
NATURE = "建议意见"
ADOPTED, NOT_ADOPTED = "采纳", "不采纳"
MONEY_FORMS = ("奖金", "荣誉证书和奖金")


def process_for(form: dict, default: str) -> str:
    """The process a registration starts: the suggestion process for the nature 建议意见, else `default`."""
    return PROCESS if form.get("nature") == NATURE else default


def no_review_reason(process_key: str) -> str | None:
    """Why a case of this process has no review or re-review (None: it may have them)."""
    if process_key == PROCESS:
        return ("人民建议不是信访诉求事项，办理结果是采纳或不采纳，不适用复查、复核（《信访工作条例》第二十九条、"
                "第三十五条）；对不采纳有不同意见的，可以补充理由重新提出建议（a suggestion has no review）")
    return None


@dataclass
class ConcludeInput:
    adoption: str
    reason: str
    propose_reward: bool = False
    reward_granted: bool = False
    reward_form: str = ""
    reward_amount: int = 0
    reward_note: str = ""


def _reward_text(inp: ConcludeInput) -> str:
    if inp.reward_form in MONEY_FORMS:
        return f"给予奖励：{inp.reward_form}（奖金 {inp.reward_amount} 元）。"
    return f"给予奖励：{inp.reward_form}。"


def conclude_suggestion(inp: ConcludeInput, ctx: HandlerContext) -> dict:
    """记录人民建议的办理结论 (the conclusion the proposer is told and the statistics count): adopted or not,
    rewarded or not, with the reward's form and amount. A reward needs an adopted suggestion, a form, and an
    amount when money is given."""
    if inp.adoption not in (ADOPTED, NOT_ADOPTED):
        raise ValueError(f"决定应为“采纳”或“不采纳”，收到“{inp.adoption}”（adoption must be 采纳 or 不采纳）")
    adopted = inp.adoption == ADOPTED
    rewarded = bool(adopted and inp.propose_reward and inp.reward_granted)
    if rewarded and not inp.reward_form:
        raise ValueError("给予奖励须写明奖励形式（a reward needs its form）")
    if rewarded and inp.reward_form in MONEY_FORMS and not (isinstance(inp.reward_amount, int) and inp.reward_amount > 0):
        raise ValueError("奖金须写明金额（元）（a money reward needs its amount）")
    detail = f"理由：{inp.reason}。" if inp.reason else ""
    if rewarded:
        detail += _reward_text(inp)
    return {"adopted": adopted, "rewarded": rewarded, "conclusion": "决定采纳" if adopted else "暂不采纳",
            "detail": detail or "感谢您的建议。", "reward_form": inp.reward_form if rewarded else "",
            "reward_amount": inp.reward_amount if rewarded and inp.reward_form in MONEY_FORMS else 0,
            "reward_note": "" if rewarded else inp.reward_note, "concluded_at": ctx.now.isoformat()}
