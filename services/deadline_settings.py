"""The local day limits live in one place, `processes/settings.dmn` (decision `deadline_settings`): every process
reads them at its start (`limits[...]` in the case data), and the runtime's yellow-alert threshold — the same lead
time the reminder timers use — is read from the same table when the application starts (`web.bootstrap`).

`SETTINGS` below declares every cell of that table: its day type, its bounds and, for a statutory limit, the
article of the 信访工作条例 (2022) that caps it. The same declaration is used by deployment (the designer's
"校验", the deploy API, `lianxin deploy`: one problem per bad cell), by the runtime on every result of the table
(a value deployed before a rule existed stops the task with the rule's words instead of becoming a wrong deadline)
and by `read_limits` here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from lxml import etree

from engine.definitions import CellIssue, DecisionCell, DecisionTableView, safe_parse_xml

DECISION = "deadline_settings"
YELLOW = "limits.yellow_lead_days"
WORKDAYS, CALENDAR_DAYS, HOURS = "workdays", "days", "hours"
_DAY_TYPE_ZH = {WORKDAYS: "工作日", CALENDAR_DAYS: "日（自然日，末日逢休息日顺延）", HOURS: "小时（自然小时，夜间和休息日照计）"}


@dataclass(frozen=True)
class Setting:
    """One cell of the settings table: whole days between `minimum` and `maximum`, counted as `day_type`.
    `article` names the regulation's article for a statutory limit; None marks a local rule."""
    name: str
    label: str
    day_type: str
    minimum: int
    maximum: int
    article: str | None = None

    @property
    def statutory(self) -> bool:
        return self.article is not None


_REG = "《信访工作条例》"
SETTINGS: tuple[Setting, ...] = (
    # Statutory: the office may shorten what binds itself, never go past the regulation.
    Setting("limits.sign_workdays", "签收或异议", WORKDAYS, 1, 5, f"{_REG}第二十三条"),
    Setting("limits.accept_days", "受理告知", CALENDAR_DAYS, 1, 15, f"{_REG}第二十三条"),
    Setting("limits.handle_days", "办结", CALENDAR_DAYS, 1, 60, f"{_REG}第三十四条"),
    Setting("limits.extension_max_days", "延期上限", CALENDAR_DAYS, 1, 30, f"{_REG}第三十四条"),
    # The petitioner's own time to ask for review is the regulation's: an office can neither shorten it (a right
    # taken away) nor lengthen it (requests the regulation calls late).
    Setting("limits.review_request_days", "申请复查", CALENDAR_DAYS, 30, 30, f"{_REG}第三十五条"),
    Setting("limits.review_decide_days", "复查决定", CALENDAR_DAYS, 1, 30, f"{_REG}第三十五条"),
    Setting("limits.rereview_request_days", "申请复核", CALENDAR_DAYS, 30, 30, f"{_REG}第三十六条"),
    Setting("limits.rereview_decide_days", "复核决定", CALENDAR_DAYS, 1, 30, f"{_REG}第三十六条"),
    # Local rules: bounds that keep them meaningful beside the statutory limits they run with.
    Setting("limits.yellow_lead_days", "临期提醒提前量", WORKDAYS, 1, 10),
    Setting("limits.supervision_report_workdays", "督办后书面报告", WORKDAYS, 1, 15),
    Setting("limits.t1", "13710 确定包案领导和专班", WORKDAYS, 1, 30),
    Setting("limits.t2", "13710 反馈市信访局", WORKDAYS, 1, 30),
    Setting("limits.t3", "13710 个性问题初步化解意见", WORKDAYS, 1, 30),
    Setting("limits.t4", "13710 群体性政策性问题阶段性方案", WORKDAYS, 1, 30),
    Setting("limits.e1", "逐级上报", WORKDAYS, 1, 30),
    Setting("limits.e2", "上级联席会议了解情况", WORKDAYS, 1, 30),
    Setting("limits.e3", "专题会商", WORKDAYS, 1, 30),
    Setting("limits.e4", "阶段性成效", WORKDAYS, 1, 30),
    Setting("limits.co_opinion_workdays", "协办单位报送协办意见", WORKDAYS, 1, 30),
    # The assigning office's own checks and the redo it orders: local rules (the regulation sets no number; a redo
    # is a new handling clock, kept within the 60 days of Art. 34).
    Setting("limits.objection_check_workdays", "审核签收异议", WORKDAYS, 1, 15),
    Setting("limits.signoff_check_workdays", "审核销号", WORKDAYS, 1, 15),
    Setting("limits.redo_days", "退回重办", CALENDAR_DAYS, 1, 60),
    # The petition office's own clock: register and pass on (转送、交办) a received matter within 15 days.
    Setting("limits.register_days", "登记转送交办", CALENDAR_DAYS, 1, 15, f"{_REG}第二十二条"),
    # A petition office that receives a matter passes it on (二次交办) within the 15 days the regulation gives
    # every petition department to forward or assign what it receives.
    Setting("limits.reassign_days", "二次交办", CALENDAR_DAYS, 1, 15, f"{_REG}第二十二条"),
    # A matter sent back by the review body (撤销/变更) is handled again within this limit; at most the statutory
    # handling time of 60 days (《信访工作条例》第三十四条), which the regulation gives no shorter substitute for.
    Setting("limits.review_redo_days", "按复查复核意见重新办理", CALENDAR_DAYS, 1, 60),
    Setting("limits.extension_approval_workdays", "单位负责人审批延期申请", WORKDAYS, 1, 10),
    # The petitioner's rating window, the assigning office's follow-up of a 不满意 and the redo it may order.
    Setting("limits.rating_days", "信访人评价期限", CALENDAR_DAYS, 1, 30),
    Setting("limits.revisit_workdays", "不满意回访", WORKDAYS, 1, 15),
    Setting("limits.revisit_redo_days", "回访后重新办理", CALENDAR_DAYS, 1, 60),
    # 问责 (services/accountability.py): the days the unit has to report back in writing after each kind. The 2022
    # regulation sets none (Art. 39-40); the 2005 regulation gave 30 days for feedback on the bureau's suggestions.
    # The recorder may give fewer days within these bounds.
    Setting("limits.accountability_interview_days", "约谈后书面反馈", CALENDAR_DAYS, 1, 30),
    Setting("limits.accountability_circular_days", "通报后书面反馈", CALENDAR_DAYS, 1, 30),
    Setting("limits.rectify_days", "限期整改并书面反馈", CALENDAR_DAYS, 1, 90),
    Setting("limits.accountability_recommend_days", "追责建议书面反馈", CALENDAR_DAYS, 1, 60),
    # 人民建议征集 (《信访工作条例》第二十九条: study, adopt where feasible, reply; a useful one may be rewarded). The
    # regulation sets no number and the 60 days of Art. 34 do not apply to suggestions: local rules.
    Setting("limits.suggestion_assess_workdays", "人民建议评估论证", WORKDAYS, 1, 30),
    Setting("limits.suggestion_decide_workdays", "决定是否采纳人民建议", WORKDAYS, 1, 15),
    Setting("limits.suggestion_reward_workdays", "确定人民建议奖励", WORKDAYS, 1, 30),
    # 重大紧急事项（第二十五条只说“及时”，没有小时数）: local rules in calendar hours, bounded so that the first
    # report stays within a working day and the written follow-up within three days.
    Setting("limits.urgent_first_report_hours", "重大紧急事项首报", HOURS, 1, 24),
    Setting("limits.urgent_written_report_hours", "重大紧急事项书面续报", HOURS, 2, 72),
    Setting("limits.urgent_reminder_lead_hours", "重大紧急事项报告前提醒提前量", HOURS, 1, 12),
)
BY_NAME = {s.name: s for s in SETTINGS}

_WHOLE = re.compile(r"[1-9][0-9]*|0")
_NUMBER = re.compile(r"[+-]?\s*[0-9]+(\.[0-9]*)?")
_WORKDAY_WORDS = re.compile(r"工作日")
_HOUR_WORDS = re.compile(r"小时")
_CALENDAR_WORDS = re.compile(r"自然日|日历日|(?<!工作)日|天")


def _count(s: Setting) -> str:
    """What a cell counts, in words: 小时数 for an hours setting, else 天数."""
    return "小时数" if s.day_type == HOURS else "天数"


def _bounds_zh(s: Setting) -> str:
    if s.minimum == s.maximum:
        return f"只能是 {s.minimum}"
    return f"应在 {s.minimum} 到 {s.maximum} 之间"


def value_issue(setting: Setting, value: object) -> tuple[str, str] | None:
    """(zh, en) when a value is not a whole number of days within the setting's bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        zh = (f"{setting.label}应为整数{_count(setting)}（{_DAY_TYPE_ZH[setting.day_type]}），{_bounds_zh(setting)}，"
              f"收到 {value!r}；请只填写一个整数")
        return zh, f"{setting.name} must be a whole number of days, got {value!r}"
    if setting.statutory and value > setting.maximum:
        unit = "个工作日" if setting.day_type == WORKDAYS else "日"
        zh = (f"{setting.label} {value} 超过{setting.article}规定的 {setting.maximum} {unit}，"
              f"请改为不超过 {setting.maximum} 的整数")
        return zh, f"{setting.name} {value} exceeds the {setting.maximum} days of the regulation ({setting.article})"
    if not setting.minimum <= value <= setting.maximum:
        basis = f"（{setting.article}）" if setting.statutory else "（本地规定）"
        span = f" 到 {setting.maximum} 之间的整数" if setting.minimum != setting.maximum else ""
        zh = f"{setting.label}{_bounds_zh(setting)}{basis}，收到 {value}；请改为 {setting.minimum}{span}"
        return zh, f"{setting.name} must be between {setting.minimum} and {setting.maximum}, got {value}"
    return None


def cell_issue(setting: Setting, text: str, label: str = "") -> tuple[str, str] | None:
    """(zh, en) for a cell as written: one whole number of days, no unit, no sign, no fraction, in bounds."""
    day_zh = _DAY_TYPE_ZH[setting.day_type]
    declared = _declared_day_type(label)
    if declared is not None and declared != setting.day_type:
        return (f"本列标注为按{_DAY_TYPE_ZH[declared]}计算，但{setting.label}按{day_zh}计算"
                + (f"（{setting.article}）" if setting.statutory else "") + f"；请把列标签改回“{day_zh}”",
                f"the column says {declared}, but {setting.name} counts {setting.day_type}")
    if not text:
        return (f"{setting.label}未填写；请填写整数{_count(setting)}（{day_zh}），{_bounds_zh(setting)}",
                f"{setting.name} is empty")
    written = _declared_day_type(text)
    if written is not None:
        number = re.search(r"[0-9]+", text)
        hint = f"只写数字 {number.group(0)}" if number else "只写数字"
        if written != setting.day_type:
            return (f"“{text}”的计日方式不对：{setting.label}按{day_zh}计算"
                    + (f"（{setting.article}）" if setting.statutory else "") + f"，单元格不写单位；请{hint}",
                    f"{setting.name} counts {setting.day_type}, not as written in \"{text}\"; write the number only")
        return (f"单元格只写{_count(setting)}，不写单位：请把“{text}”改为{hint[2:]}（按{day_zh}计算由本列决定）",
                f"write the number of days without a unit, not \"{text}\"")
    if _WHOLE.fullmatch(text):
        if len(text) > 9:
            return (f"{setting.label} {text} 过大；请填写{_bounds_zh(setting)}的整数",
                    f"{setting.name} {text} is far out of bounds")
        return value_issue(setting, int(text))
    if _NUMBER.fullmatch(text):
        if "." in text:
            return (f"{setting.label}应为整数{_count(setting)}，不能是小数 {text}；请填写 {setting.minimum} 到 {setting.maximum} 之间的整数",
                    f"{setting.name} must be a whole number of days, got {text}")
        return (f"{setting.label}应为正整数{_count(setting)}，收到 {text}；请填写 {setting.minimum} 到 {setting.maximum} 之间的整数",
                f"{setting.name} must be a positive whole number, got {text}")
    return (f"{setting.label}应为整数{_count(setting)}（{day_zh}），收到“{text}”；请只填写一个整数，{_bounds_zh(setting)}",
            f"{setting.name} must be a whole number of days, got \"{text}\"")


def _declared_day_type(text: str) -> str | None:
    if _HOUR_WORDS.search(text):
        return HOURS
    if _WORKDAY_WORDS.search(text):
        return WORKDAYS
    if _CALENDAR_WORDS.search(text):
        return CALENDAR_DAYS
    return None


class DeadlineSettingsRules:
    """The `engine.definitions.DecisionRules` of `deadline_settings`, handed to the runtime by the composition
    root."""
    outputs = frozenset(BY_NAME)
    day_functions = MappingProxyType({s.name: s.day_type for s in SETTINGS})

    def table_issues(self, table: DecisionTableView) -> list[CellIssue]:
        columns = [name for name, _ in table.outputs]
        return [*_column_issues(columns), *_cell_issues(table, columns)]

    def result_issues(self, result: dict) -> list[str]:
        out = []
        for setting in SETTINGS:
            value = _dotted(result, setting.name)
            if value is _MISSING:
                out.append(f"时限设置缺少 {setting.name}（{setting.label}）；请流程设计员在 settings.dmn 中补上并重新部署"
                           f"（setting {setting.name} is missing）")
                continue
            issue = value_issue(setting, value)
            if issue:
                out.append(f"时限设置 {setting.name}：{issue[0]}；请流程设计员修改 settings.dmn 并重新部署（{issue[1]}）")
        return out


def _column_issues(columns: list[str]) -> list[CellIssue]:
    """Columns that are not declared settings, and declared settings without a column."""
    issues = [CellIssue(None, name, f"{name} 不是已声明的时限设置，不知道它的计日方式和上下限；"
                        f"请删除该列或改为已声明的名称（{'、'.join(sorted(BY_NAME))}）",
                        f"{name} is not a declared setting: remove the column or use a declared name")
              for name in columns if name not in BY_NAME]
    issues += [CellIssue(None, None, f"缺少必需的时限设置 {setting.name}（{setting.label}）；"
                         f"请添加输出列 {setting.name}，填写{_bounds_zh(setting)}的整数",
                         f"required setting {setting.name} is missing: add the output column")
               for setting in SETTINGS if setting.name not in columns]
    return issues


def _cell_issues(table: DecisionTableView, columns: list[str]) -> list[CellIssue]:
    """Each declared cell checked against its setting, and each rule's declared columns that have no cell."""
    issues, seen = [], set()
    for cell in table.cells:
        setting = BY_NAME.get(cell.output)
        if setting is None:
            continue
        seen.add((cell.rule, cell.output))
        issue = cell_issue(setting, cell.text, cell.label)
        if issue:
            issues.append(CellIssue(cell.rule, cell.output, *issue))
    rules = sorted({c.rule for c in table.cells})
    issues += [CellIssue(rule, name, f"{BY_NAME[name].label}未填写；请填写整数{_count(BY_NAME[name])}", f"{name} has no cell in this rule")
               for rule in rules for name in columns if name in BY_NAME and (rule, name) not in seen]
    if not rules:
        issues.append(CellIssue(None, None, "时限设置表没有规则；请添加一条规则并填写每一项时限",
                                "the settings table has no rule: add one"))
    return issues


_MISSING = object()


def _dotted(data: dict, name: str):
    value: object = data
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


RULES = DeadlineSettingsRules()


def decision_rules() -> dict[str, DeadlineSettingsRules]:
    """What the composition root hands the runtime: the settings table's types and bounds, by decision id."""
    return {DECISION: RULES}


def read_limits(path: Path | str) -> dict[str, int]:
    """The default rule's outputs by name (`limits.t1` -> 1), each checked against `SETTINGS`: a bad cell raises
    ValueError naming it, never a silent default."""
    path = Path(path)
    root = safe_parse_xml(path.read_bytes(), path.name).getroot()
    ns = {"d": etree.QName(root).namespace}
    decision = root.find(f"d:decision[@id='{DECISION}']", ns)
    if decision is None:
        raise LookupError(f"{path.name} 中没有决策 {DECISION}（no decision {DECISION}）")
    table = decision.find("d:decisionTable", ns)
    outputs = [(o.get("name"), o.get("label") or "") for o in table.findall("d:output", ns)]
    rule = table.find("d:rule", ns)
    if rule is None:
        raise LookupError(f"{path.name} 的时限设置表没有规则（the settings table has no rule）")
    cells = [(e.findtext("d:text", default="", namespaces=ns) or "").strip() for e in rule.findall("d:outputEntry", ns)]
    view = DecisionTableView(DECISION, decision.get("name") or DECISION, tuple(outputs),
                             tuple(DecisionCell(1, (), name, label, cell) for (name, label), cell in zip(outputs, cells)))
    issues = RULES.table_issues(view)
    if issues:
        raise ValueError(f"{path.name}：" + "；".join(
            f"{i.output or DECISION}：{i.zh}" for i in issues) + "（day limits must be whole numbers within their bounds）")
    return {name: int(cell) for (name, _), cell in zip(outputs, cells)}


def yellow_lead_days(processes_dir: Path | str, default: int = 3) -> int:
    """The yellow lead time (working days) from settings.dmn; `default` only when the file is absent."""
    path = Path(processes_dir) / "settings.dmn"
    if not path.exists():
        return default
    return read_limits(path)[YELLOW]
