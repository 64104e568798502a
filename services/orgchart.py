"""The organisation as the handlers see it: units in a tree, and who answers for a unit.

Handlers resolve units through the hierarchy (属地管理): the county a department belongs to, that county's
petition office and joint-meeting office, the body one level up that reviews a handling opinion. The chart is
taken from `ctx.ports["organisation"]` when the composition root provides one: a `ChartSource`, the units as the
database holds them (what `lianxin init` loaded from `processes/organisation.yaml` and what `lianxin org import`
or the admin page /admin/organisation imported since), rebuilt when the organisation changes. Without a port, or
while the database holds no units, it is read from `processes/organisation.yaml`.

The chart also declares the escalation tiers (逐级上交), bottom up: the administrative levels whose joint meetings a
matter climbs through, with their names. Escalation, statistics and the review bodies read them from here.

Recipients of notices are (unit, role) pairs, never people: the notifier resolves them to the users who hold that
role in that unit (or in an ancestor with `subunits: true`), so the journal names offices, not individuals.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select

from infra import yaml_docs
from infra.accounts import Unit
from services.store.organisation import OrgChange

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / "organisation.yaml"


@dataclass(frozen=True)
class OrgUnit:
    code: str
    name: str
    kind: str
    parent: str | None = None
    adcode: str | None = None


@dataclass(frozen=True)
class Tier:
    """One level of escalation: the unit kind of the level (county, city, province), its short name (县级) and its
    joint meeting's name (县级联席会议)."""
    level: str
    name: str
    meeting: str


@dataclass
class OrgChart:
    units: dict[str, OrgUnit] = field(default_factory=dict)
    tiers: tuple[Tier, ...] = ()

    @classmethod
    def from_yaml(cls, path: Path = DEFAULT_FILE) -> OrgChart:
        doc = yaml_docs.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        chart = cls(tiers=tuple(_tier(t, path) for t in doc.get("tiers") or []))
        if not chart.tiers:
            raise ValueError(f"{Path(path).name}: 缺少 tiers（逐级上交的层级）（the organisation declares no tiers）")
        for u in doc.get("units", []):
            chart.units[u["code"]] = OrgUnit(u["code"], u["name"], u["kind"], u.get("parent"), u.get("adcode"))
        return chart

    # ---- the escalation tiers

    def tier_levels(self) -> tuple[str, ...]:
        """The levels, bottom up (county, city, province in the shipped organisation)."""
        return tuple(t.level for t in self.tiers)

    def tier(self, level: str) -> Tier:
        for t in self.tiers:
            if t.level == level:
                return t
        raise LookupError(f"层级应为 {', '.join(self.tier_levels())}，收到 {level!r}（unknown tier level）")

    def tier_above(self, level: str) -> Tier | None:
        levels = self.tier_levels()
        at = levels.index(self.tier(level).level)
        return self.tiers[at + 1] if at + 1 < len(levels) else None

    def level_name(self, kind: str) -> str:
        """县级 for a county, …; other kinds as they are."""
        return next((t.name for t in self.tiers if t.level == kind), kind)

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
            if unit.kind in self.tier_levels():
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
        if level.parent is None or not any(u.kind in self.tier_levels() for u in self.ancestors(level.parent)):
            return None  # the top of the declared tiers
        return self.level_of(level.parent)

    def adcode(self, code: str) -> str:
        for unit in self.ancestors(code):
            if unit.adcode:
                return unit.adcode
        return "000000"


def _tier(entry, path) -> Tier:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("level", "name", "meeting")):
        raise ValueError(f"{Path(path).name}: 每个层级需要 level、name、meeting（each tier needs level, name, "
                         f"meeting）：{entry!r}")
    return Tier(entry["level"], entry["name"], entry["meeting"])


@lru_cache(maxsize=4)
def _chart_from(path: str, mtime: float) -> OrgChart:
    return OrgChart.from_yaml(Path(path))


def default_chart() -> OrgChart:
    """The chart in processes/organisation.yaml, re-read when the file changes."""
    return _chart_from(str(DEFAULT_FILE), DEFAULT_FILE.stat().st_mtime)


def chart_for(ctx) -> OrgChart:
    port = (getattr(ctx, "ports", None) or {}).get("organisation")
    if isinstance(port, ChartSource):
        return port.current()
    return port if port is not None else default_chart()


# The organisation's revision (the number of units, the newest org_change row) in one statement: a round trip
# fewer on the requests that find the cached chart due for a check.
_REVISION = select(select(func.count()).select_from(Unit).scalar_subquery(),
                   select(func.max(OrgChange.id)).scalar_subquery())


class ChartSource:
    """The org chart as the database holds it (the `unit` table), with the tiers of the organisation file. Cached;
    rebuilt when the organisation's revision moves (the number of units and the newest org_change row, read at most
    once a second, at once after `refresh()`, which an import in this process calls)."""

    def __init__(self, read_sessions, tiers_file: Path = DEFAULT_FILE, check_every: float = 1.0):
        self.read_sessions = read_sessions
        self.tiers_file = Path(tiers_file) if Path(tiers_file).is_file() else DEFAULT_FILE
        self.check_every = check_every
        self._lock = threading.Lock()
        self._chart: OrgChart | None = None
        self._revision = None
        self._checked = 0.0

    def refresh(self) -> None:
        with self._lock:
            self._checked = 0.0

    def current(self) -> OrgChart:
        with self._lock:
            now = time.monotonic()
            if self._chart is not None and now - self._checked < self.check_every:
                return self._chart
            self._checked = now
            try:
                self._chart, self._revision = self._load(self._revision, self._chart)
            except Exception:  # noqa: BLE001 - a database not yet migrated or reachable: the organisation file
                self._chart, self._revision = _chart_from(str(self.tiers_file), self.tiers_file.stat().st_mtime), None
            return self._chart

    def _load(self, revision, chart):
        with self.read_sessions() as s:
            now = tuple(s.execute(_REVISION).one())
            if chart is not None and now == revision:
                return chart, revision
            yaml_chart = _chart_from(str(self.tiers_file), self.tiers_file.stat().st_mtime)
            if not now[0]:
                return yaml_chart, now
            built = OrgChart(tiers=yaml_chart.tiers)
            for u in s.scalars(select(Unit).order_by(Unit.code)):
                built.units[u.code] = OrgUnit(u.code, u.name, u.kind, u.parent_code, u.adcode)
            return built, now
