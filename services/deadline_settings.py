"""The local day limits live in one place, `processes/settings.dmn` (decision `deadline_settings`): every process
reads them at its start (`limits[...]` in the case data), and the runtime's yellow-alert threshold — the same lead
time the reminder timers use — is read from the same table when the application starts (`web.bootstrap`).
"""
from __future__ import annotations

from pathlib import Path

from lxml import etree

from engine.definitions import safe_parse_xml

DECISION = "deadline_settings"
YELLOW = "limits.yellow_lead_days"


def read_limits(path: Path | str) -> dict[str, int]:
    """The default rule's outputs by name (`limits.t1` -> 1). Cells must be whole numbers."""
    path = Path(path)
    root = safe_parse_xml(path.read_bytes(), path.name).getroot()
    ns = {"d": etree.QName(root).namespace}
    decision = root.find(f"d:decision[@id='{DECISION}']", ns)
    if decision is None:
        raise LookupError(f"{path.name} 中没有决策 {DECISION}（no decision {DECISION}）")
    table = decision.find("d:decisionTable", ns)
    names = [o.get("name") for o in table.findall("d:output", ns)]
    rule = table.find("d:rule", ns)
    if rule is None:
        raise LookupError(f"{path.name} 的时限设置表没有规则（the settings table has no rule）")
    cells = [(e.findtext("d:text", default="", namespaces=ns) or "").strip() for e in rule.findall("d:outputEntry", ns)]
    limits = {}
    for name, cell in zip(names, cells):
        if not cell.isdigit():
            raise ValueError(f"{path.name} 中 {name} 应为非负整数天数，收到“{cell}”（day limits must be whole numbers）")
        limits[name] = int(cell)
    return limits


def yellow_lead_days(processes_dir: Path | str, default: int = 3) -> int:
    """The yellow lead time (working days) from settings.dmn; `default` only when the file is absent."""
    path = Path(processes_dir) / "settings.dmn"
    if not path.exists():
        return default
    return read_limits(path)[YELLOW]
