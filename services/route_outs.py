"""导出信访程序的法定途径 (routes out, 诉访分离): the maintained list in processes/route_outs.yaml.

《信访工作条例》第二十二条、第二十八条、第三十一条: a matter that belongs to litigation, arbitration, labour
arbitration, administrative reconsideration or another statutory channel is not handled as a petition; the
petitioner is told in writing which channel and which body. Triage (诉访分离) and acceptance (不予受理) choose the
channel from this list by its Chinese name (the forms' `route_out_channel`); `competent_body` names the body for
the area where the matter arose. `deploy_check` refuses a deployment whose list is malformed or whose forms offer
channels the list does not have (or miss some it has).

Also here: `skip_level` (越级访, 第二十条): a visit to an office above the level where the matter belongs.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from engine.definitions import CompiledProcess, Problem
from infra import yaml_docs

from .orgchart import OrgChart

FILE_NAME = "route_outs.yaml"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / FILE_NAME
FIELD = "route_out_channel"  # the forms' field naming the channel (by its Chinese name)
DEFAULT_CODE = "litigation"  # a triage to 诉访分离 that names no channel (the versions before the list)
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class RouteOutProblem(ValueError):
    pass


@dataclass(frozen=True)
class Channel:
    code: str
    name: str
    en: str
    basis: str
    bodies: dict[str, str]  # administrative level kind -> body name pattern
    unit: str | None = None  # an organisation unit kind told of the matter (political_legal: the court)


@dataclass(frozen=True)
class Body:
    name: str
    unit: str | None  # the unit in the organisation, when the channel's organ is there
    area: str  # the administrative area (county/city/province code) whose body it is


@dataclass(frozen=True)
class RouteOutList:
    channels: tuple[Channel, ...]

    def codes(self) -> list[str]:
        return [c.code for c in self.channels]

    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    def find(self, value: str | None) -> Channel:
        """The channel by its code or its Chinese name; unknown ones are refused naming the list."""
        for c in self.channels:
            if value in (c.code, c.name):
                return c
        raise RouteOutProblem(f"法定途径“{value or ''}”不在导出途径清单中，请从清单中选择：{'、'.join(self.names())}"
                              f"（unknown route-out channel; see processes/{FILE_NAME}）")

    def competent_body(self, channel: Channel, chart: OrgChart, location: str) -> Body:
        """The body of `channel` competent for the area where the matter arose (`location`): the organisation's
        unit of the channel's kind at that level when there is one, else the name the list gives for the level."""
        if not chart.has(location):
            raise RouteOutProblem(f"问题发生地“{location}”不在组织机构中，请先填写问题发生地（unknown location）")
        level = chart.level_of(location)
        if channel.unit:
            organ = chart.child_of_kind(level.code, channel.unit)
            if organ is not None:
                return Body(organ.name, organ.code, level.code)
        pattern = channel.bodies.get(level.kind)
        if not pattern:
            raise RouteOutProblem(f"导出途径“{channel.name}”没有写明{chart.level_name(level.kind)}的有权处理机关，"
                                  f"请在 {FILE_NAME} 的 bodies 中补充 {level.kind}")
        names = {"area": level.name}
        names.update({u.kind: u.name for u in chart.ancestors(level.code) if u.kind in chart.tier_levels()})
        return Body(_PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), pattern), None, level.code)


def _body_problems(code, level, pattern, levels: tuple[str, ...]) -> list[str]:
    errors = []
    if levels and level not in levels:
        errors.append(f"途径 {code}：bodies 的层级 {level} 不在组织机构的层级（{'、'.join(levels)}）中")
    if not isinstance(pattern, str) or not pattern.strip():
        errors.append(f"途径 {code}：bodies.{level} 应为机关名称")
    elif any(p != "area" and (levels and p not in levels) for p in _PLACEHOLDER.findall(pattern)):
        errors.append(f"途径 {code}：bodies.{level} 只能使用占位符 {{area}} 和层级名称（{'、'.join(levels)}）")
    return errors


def _channel(i: int, raw, levels: tuple[str, ...]) -> tuple[Channel | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"channels[{i}] 应为一个途径（code、name、en、basis、bodies）"]
    errors = []
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        errors.append(f"channels[{i}] 的 code “{code}” 应为小写英文字母开头的代码（a-z、0-9、_）")
    for key in ("name", "en", "basis"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            errors.append(f"途径 {code}：缺少 {key}")
    bodies = raw.get("bodies")
    if not isinstance(bodies, dict) or not bodies:
        errors.append(f"途径 {code}：bodies 应按行政层级（{'、'.join(levels)}）写明有权处理的机关")
        bodies = {}
    for level, pattern in bodies.items():
        errors += _body_problems(code, level, pattern, levels)
    if errors:
        return None, errors
    return Channel(code, raw["name"].strip(), raw["en"].strip(), raw["basis"].strip(),
                   {str(k): str(v) for k, v in bodies.items()}, raw.get("unit") or None), []


def parse(text: str, levels: tuple[str, ...] = ()) -> RouteOutList:
    """The list from the file's text; `levels`: the organisation's tier levels the bodies are keyed by."""
    try:
        raw = yaml_docs.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise RouteOutProblem(f"{FILE_NAME} 不是有效的 YAML：{err}") from err
    items = raw.get("channels") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise RouteOutProblem(f"{FILE_NAME} 应有 channels：至少一个法定途径")
    channels, errors = [], []
    for i, item in enumerate(items):
        channel, problems = _channel(i, item, levels)
        errors += problems
        if channel is not None:
            channels.append(channel)
    for attr, label in (("code", "code"), ("name", "name")):
        values = [getattr(c, attr) for c in channels]
        errors += [f"途径的 {label} “{v}”重复" for v in sorted({v for v in values if values.count(v) > 1})]
    if errors:
        raise RouteOutProblem("；".join(errors))
    return RouteOutList(tuple(channels))


def load(path: Path | str = DEFAULT_FILE, levels: tuple[str, ...] = ()) -> RouteOutList:
    return parse(Path(path).read_text(encoding="utf-8"), levels)


@lru_cache(maxsize=4)
def _list_from(path: str, mtime: float) -> RouteOutList:
    return load(path)


def default_list() -> RouteOutList:
    """The shipped list (processes/route_outs.yaml), re-read when the file changes."""
    return _list_from(str(DEFAULT_FILE), DEFAULT_FILE.stat().st_mtime)


def _levels_beside(path: Path) -> tuple[str, ...]:
    """The tier levels of the organisation.yaml beside the list (the bodies are keyed by them), if there is one."""
    organisation = path.parent / "organisation.yaml"
    return OrgChart.from_yaml(organisation).tier_levels() if organisation.exists() else ()


def form_problems(sources: dict[str, str], route_outs: RouteOutList) -> list[tuple[str, str]]:
    """(file, message) for each form whose `route_out_channel` options differ from the list's names."""
    out = []
    for name, text in sources.items():
        if not name.endswith(".json"):
            continue
        try:
            schema = json.loads(text)
        except ValueError:
            continue  # the form check of the engine reports it
        prop = ((schema.get("properties") or {}).get(FIELD) if isinstance(schema, dict) else None) or {}
        if prop and list(prop.get("enum") or []) != route_outs.names():
            out.append((name, f"表单字段 {FIELD} 的选项应与导出途径清单 {FILE_NAME} 的名称一致（依次为："
                              f"{'、'.join(route_outs.names())}），现为：{'、'.join(map(str, prop.get('enum') or []))}"))
    return out


def deploy_check(path: Path | str = DEFAULT_FILE,
                 levels: tuple[str, ...] = ()) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: the list is well formed and the forms offer exactly its channels."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        try:
            route_outs = load(path, levels or _levels_beside(Path(path)))
        except (OSError, ValueError) as err:  # RouteOutProblem is a ValueError
            return [Problem(FILE_NAME, None, None, str(err))]
        seen, problems = set(), []
        for process in compiled:
            for file, message in form_problems(process.sources, route_outs):
                if file not in seen:
                    seen.add(file)
                    problems.append(Problem(file, None, FIELD, message))
        return problems
    return check


# ---------------------------------------------------------------- 越级访 (《信访工作条例》第二十条)

@dataclass(frozen=True)
class SkipLevel:
    office: str  # the petition office of the competent level
    office_name: str
    area: str  # the competent level (county) of the matter
    area_name: str
    reason: str


def skip_level(chart: OrgChart, registering_unit: str, location: str) -> SkipLevel | None:
    """越级访: the matter arose in an area of a lower level than the registering office's own level, which has its
    own petition office (the competent level under 属地管理、分级负责). None when the office is at the matter's level."""
    if not (chart.has(registering_unit) and chart.has(location)):
        return None
    office_level = chart.level_of(registering_unit)
    matter_level = chart.level_of(location)
    if matter_level.code == office_level.code:
        return None
    if office_level.code not in {u.code for u in chart.ancestors(matter_level.code, include_self=False)}:
        return None  # not below the office: not a skipped level (another area's matter)
    office = chart.child_of_kind(matter_level.code, "petition_office")
    if office is None:
        return None
    reason = (f"问题发生地属{matter_level.name}，依照“属地管理、分级负责”应先向{office.name}提出；"
              f"向{chart.name(registering_unit)}提出的，属越级走访（《信访工作条例》第二十条）")
    return SkipLevel(office.code, office.name, matter_level.code, matter_level.name, reason)
