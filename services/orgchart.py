"""The organisation as the handlers see it: units in a tree, and who answers for a unit.

Handlers resolve units through the hierarchy (属地管理): the county a department belongs to, that county's
petition office and joint-meeting office, the body one level up that reviews a handling opinion. The chart is
read from `processes/organisation.yaml` (the same file `lianxin init` loads into the database), or taken from
`ctx.ports["organisation"]` when the composition root provides one.

Recipients of notices are (unit, role) pairs, never people: the notifier resolves them to the users who hold that
role in that unit (or in an ancestor with `subunits: true`), so the journal names offices, not individuals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / "organisation.yaml"
LEVEL_KINDS = ("county", "city", "province")
LEVEL_NAMES = {"county": "县级", "city": "市级", "province": "省级"}


@dataclass(frozen=True)
class OrgUnit:
    code: str
    name: str
    kind: str
    parent: str | None = None
    adcode: str | None = None


@dataclass
class OrgChart:
    units: dict[str, OrgUnit] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: Path = DEFAULT_FILE) -> OrgChart:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        chart = cls()
        for u in doc.get("units", []):
            chart.units[u["code"]] = OrgUnit(u["code"], u["name"], u["kind"], u.get("parent"), u.get("adcode"))
        return chart

    # ---- lookups

    def get(self, code: str) -> OrgUnit:
        try:
            return self.units[code]
        except KeyError:
            raise LookupError(f"组织机构中没有单位 {code}（unknown unit {code}; see processes/organisation.yaml）") from None

    def has(self, code: str | None) -> bool:
        return bool(code) and code in self.units

    def name(self, code: str) -> str:
        return self.get(code).name

    def ancestors(self, code: str, include_self: bool = True) -> list[OrgUnit]:
        out, seen = [], set()
        unit = self.get(code)
        if not include_self:
            unit = self.units.get(unit.parent) if unit.parent else None
        while unit is not None and unit.code not in seen:
            seen.add(unit.code)
            out.append(unit)
            unit = self.units.get(unit.parent) if unit.parent else None
        return out

    def children(self, code: str) -> list[OrgUnit]:
        return [u for u in self.units.values() if u.parent == code]

    def level_of(self, code: str) -> OrgUnit:
        """The nearest administrative level (county, city, province) at or above the unit."""
        for unit in self.ancestors(code):
            if unit.kind in LEVEL_KINDS:
                return unit
        raise LookupError(f"单位 {code} 不属于任何县、市、省（unit {code} has no administrative level above it）")

    def child_of_kind(self, level_code: str, kind: str) -> OrgUnit | None:
        return next((u for u in self.children(level_code) if u.kind == kind), None)

    def petition_office(self, code: str) -> OrgUnit:
        """The petition office (信访局) of the unit's administrative level."""
        level = self.level_of(code)
        found = self.child_of_kind(level.code, "petition_office")
        if found is None:
            raise LookupError(f"{level.name} 没有信访部门（no petition_office under {level.code}）")
        return found

    def joint_meeting(self, level_code: str) -> OrgUnit:
        found = self.child_of_kind(level_code, "joint_meeting_office")
        if found is None:
            raise LookupError(f"{self.name(level_code)} 没有信访工作联席会议办公室（no joint_meeting_office under {level_code}）")
        return found

    def level_up(self, code: str) -> OrgUnit | None:
        """The administrative level above the unit's own level (county -> city -> province)."""
        level = self.level_of(code)
        if level.parent is None:
            return None
        return self.level_of(level.parent)

    def adcode(self, code: str) -> str:
        for unit in self.ancestors(code):
            if unit.adcode:
                return unit.adcode
        return "000000"


@lru_cache(maxsize=4)
def _chart_from(path: str, mtime: float) -> OrgChart:
    return OrgChart.from_yaml(Path(path))


def default_chart() -> OrgChart:
    """The chart in processes/organisation.yaml, re-read when the file changes."""
    return _chart_from(str(DEFAULT_FILE), DEFAULT_FILE.stat().st_mtime)


def chart_for(ctx) -> OrgChart:
    port = (getattr(ctx, "ports", None) or {}).get("organisation")
    return port if port is not None else default_chart()
