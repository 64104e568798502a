"""The lane table (processes/lane_roles.yaml): which role works a lane that names no role itself.

Models drawn in other tools name lanes after desks ("信访接待窗口", "Clerk") rather than Lianxin's roles. A row
maps such a lane name to a role (its code or its label). The table is data the designers edit on their page;
`catalogue()` hands it, with the roles, to the engine at each deploy, where a row naming an unknown role
refuses the deploy with the row's line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.role_mapping import LaneRow, RoleCatalogue

from .roles import ROLE_LABELS

FILE_NAME = "lane_roles.yaml"
MAX_ROWS = 500
MAX_TEXT = 100
_HEADER = """\
# 泳道角色映射表（lane name -> role）：从其他建模工具导入的流程图，泳道上没有 lianxin:role，泳道名也不是
# 角色名（角色代码或中文名）时，按这里的行找到办理该泳道用户任务的角色。由流程设计员在“流程设计 → 泳道角色映射”
# 页面维护；部署时逐行检查，角色不存在的行会拒绝部署并指出行号。
"""


@dataclass(frozen=True)
class TableProblem:
    line: int | None
    row: str
    message: str


def read(path: Path) -> tuple[list[LaneRow], list[TableProblem]]:
    """The rows of the table with their lines, and what is malformed in it (a missing file is an empty table)."""
    if not path.is_file():
        return [], []
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return [], [TableProblem(mark.line + 1 if mark else None, "-", f"角色映射表不是有效的 YAML：{err}")]
    if node is None:
        return [], []
    lanes = _mapping_value(node, "lanes")
    if lanes is None:
        return [], []
    if not isinstance(lanes, yaml.SequenceNode):
        return [], [TableProblem(lanes.start_mark.line + 1, "lanes", "lanes 必须是列表（lanes must be a list）")]
    rows, problems = [], []
    for item in lanes.value:
        line = item.start_mark.line + 1
        lane, role = _mapping_value(item, "lane"), _mapping_value(item, "role")
        if not (_is_text(lane) and _is_text(role)):
            problems.append(TableProblem(line, "-", "每行必须写成 {lane: 泳道名, role: 角色}（each row needs lane and role text）"))
            continue
        rows.append(LaneRow(lane.value.strip(), role.value.strip(), line))
    return rows, problems


def catalogue(processes_dir: Path):
    """A `() -> RoleCatalogue` for `Runtime(role_catalogue=...)`: the file is read at each deploy."""
    path = Path(processes_dir) / FILE_NAME

    def load() -> RoleCatalogue:
        rows, problems = read(path)
        problems += _duplicates(rows)
        return RoleCatalogue(dict(ROLE_LABELS), tuple(rows), FILE_NAME,
                             tuple((p.line, p.row, p.message) for p in problems))

    return load


def validate(rows: list[dict]) -> tuple[list[LaneRow], list[str]]:
    """Rows as the designers' page sends them: typed, each role known, each lane once. Errors name the row."""
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        return [], [f"rows 必须是最多 {MAX_ROWS} 行的列表（rows must be a list）"]
    known = RoleCatalogue(dict(ROLE_LABELS))
    out, errors, seen = [], [], set()
    for number, row in enumerate(rows, start=1):
        lane = row.get("lane") if isinstance(row, dict) else None
        role = row.get("role") if isinstance(row, dict) else None
        if not (isinstance(lane, str) and isinstance(role, str) and lane.strip() and role.strip()
                and len(lane) <= MAX_TEXT and len(role) <= MAX_TEXT):
            errors.append(f"第 {number} 行：泳道名和角色都必须填写（最多 {MAX_TEXT} 字）")
            continue
        code = known.role_named(role)
        if code is None:
            errors.append(f"第 {number} 行（泳道“{lane.strip()}”）：没有角色“{role.strip()}”；已有角色：{known.known()}")
        elif lane.strip() in seen:
            errors.append(f"第 {number} 行：泳道“{lane.strip()}”重复")
        else:
            seen.add(lane.strip())
            out.append(LaneRow(lane.strip(), code))
    return out, errors


def write(path: Path, rows: list[LaneRow]) -> None:
    body = yaml.safe_dump({"lanes": [{"lane": r.lane, "role": r.role} for r in rows]}, allow_unicode=True,
                          default_flow_style=None, sort_keys=False)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(_HEADER + body, encoding="utf-8")
    tmp.replace(path)


def _duplicates(rows: list[LaneRow]) -> list[TableProblem]:
    seen, out = set(), []
    for row in rows:
        if row.lane in seen:
            out.append(TableProblem(row.line, row.lane, f"泳道“{row.lane}”在映射表中出现了不止一次（duplicate lane）"))
        seen.add(row.lane)
    return out


def _mapping_value(node, key: str):
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _is_text(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and bool(node.value.strip())
