"""Notification templates: versioned, rendered in a Jinja2 sandbox with strict undefined names.

The templates themselves are data (`processes/templates/*.yaml`); this module only loads, checks and renders
them. A version, once used, is never edited: a change is a new version, and every outbox row keeps the id and
version it was asked with, so what a petitioner received can always be rendered again exactly.

File format (one or more files, ids unique across them):

    registration_receipt:
      name: 登记回执
      versions:
        1:
          subject: 信访事项登记回执（{{ case_no }}）
          body: |                      # e-mail and in-app text
            ...
          sms: ...                     # optional shorter text for SMS; defaults to body
          example: {case_no: ..., ...} # the fields it needs, with sample values (checked, shown to admins)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.clock import SHANGHAI
from infra import yaml_docs
from infra.ports import TemplateProblem  # the deliverer's port names it; raised here

MAX_TEMPLATE_FILE_BYTES = 512 * 1024


@dataclass(frozen=True)
class Rendered:
    template: str
    version: int
    subject: str
    body: str
    sms: str


@dataclass(frozen=True)
class TemplateVersion:
    template: str
    version: int
    name: str
    subject: Any  # compiled jinja2 templates
    body: Any
    sms: Any
    example: dict


def cn_date(value: Any) -> str:
    """`2026-03-17` or an ISO datetime → `2026年3月17日` (Beijing date): how notices write dates."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # a filter is handed the Undefined itself: keep the strictness
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if not isinstance(value, date):
        raise TemplateProblem(f"无法按日期格式化 {value!r}（cn_date needs a date or ISO-8601 text）")
    return f"{value.year}年{value.month}月{value.day}日"


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["cn_date"] = cn_date
    return env


class TemplateCatalogue:
    def __init__(self, versions: dict[tuple[str, int], TemplateVersion]):
        self._versions = versions

    # ---- loading

    @classmethod
    def load(cls, path: Path | str) -> TemplateCatalogue:
        """A YAML file, or every *.yaml/*.yml file under a folder. All problems are reported at once."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise TemplateProblem(f"找不到通知模板 {path}（no such template file or folder）")
        sources = {}
        for f in files:
            if f.stat().st_size > MAX_TEMPLATE_FILE_BYTES:
                raise TemplateProblem(f"{f}: 模板文件过大，上限 {MAX_TEMPLATE_FILE_BYTES // 1024} KB（template file too large）")
            sources[str(f)] = f.read_text(encoding="utf-8")
        return cls.from_sources(sources)

    @classmethod
    def from_sources(cls, sources: dict[str, str]) -> TemplateCatalogue:
        env = _environment()
        versions: dict[tuple[str, int], TemplateVersion] = {}
        origin: dict[str, str] = {}
        problems: list[str] = []
        for filename, text in sources.items():
            try:
                doc = yaml_docs.safe_load(text) or {}
            except yaml.YAMLError as exc:
                problems.append(f"{filename}: YAML 格式错误（invalid YAML）：{exc}")
                continue
            if not isinstance(doc, dict):
                problems.append(f"{filename}: 顶层必须是 模板编号 → 模板 的映射（top level must map ids to templates）")
                continue
            for template_id, spec in doc.items():
                where = f"{filename}: {template_id}"
                if template_id in origin:
                    problems.append(f"{where}: 模板编号重复，已在 {origin[template_id]} 中定义（duplicate template id）")
                    continue
                origin[str(template_id)] = filename
                problems.extend(_compile_template(env, str(template_id), spec, where, versions))
        if problems:
            raise TemplateProblem("通知模板有误（template problems）：\n" + "\n".join(problems))
        return cls(versions)

    # ---- queries

    def ids(self) -> list[str]:
        return sorted({t for t, _ in self._versions})

    def versions_of(self, template: str) -> list[int]:
        return sorted(v for t, v in self._versions if t == template)

    def latest(self, template: str) -> int:
        versions = self.versions_of(template)
        if not versions:
            raise TemplateProblem(f"没有通知模板 {template}（unknown template; known: {', '.join(self.ids())}）")
        return versions[-1]

    def get(self, template: str, version: int) -> TemplateVersion:
        found = self._versions.get((template, int(version)))
        if found is None:
            known = self.versions_of(template)
            if not known:
                raise TemplateProblem(f"没有通知模板 {template}（unknown template; known: {', '.join(self.ids())}）")
            raise TemplateProblem(f"通知模板 {template} 没有第 {version} 版（no such version; versions: "
                                  f"{', '.join(map(str, known))}）")
        return found

    def describe(self) -> list[dict]:
        return [{"template": t, "name": self._versions[(t, self.latest(t))].name, "versions": self.versions_of(t),
                 "fields": sorted(self._versions[(t, self.latest(t))].example)} for t in self.ids()]

    def check_examples(self) -> list[str]:
        """Render every version with its own example: a template that its documented fields cannot fill is a
        problem found before any petitioner is waiting for the message."""
        problems = []
        for (template, version), tv in sorted(self._versions.items()):
            if not tv.example:
                problems.append(f"{template} v{version}: 缺少 example 示例数据（no example data）")
                continue
            try:
                self.render(template, version, tv.example)
            except TemplateProblem as exc:
                problems.append(str(exc))
        return problems

    # ---- rendering

    def render(self, template: str, version: int, data: dict[str, Any]) -> Rendered:
        tv = self.get(template, version)
        if not isinstance(data, dict):
            raise TemplateProblem(f"通知模板 {template} v{version} 的数据必须是对象（template data must be an object）")
        parts = {}
        for part in ("subject", "body", "sms"):
            try:
                parts[part] = getattr(tv, part).render(data).strip()
            except TemplateError as exc:
                raise TemplateProblem(f"通知模板 {template} v{version} 的 {part} 无法生成：{_explain(exc)}"
                                      f"（template render failed: {exc}）") from exc
        return Rendered(template, tv.version, parts["subject"], parts["body"], parts["sms"])


def _explain(exc: TemplateError) -> str:
    text = str(exc)
    if "is undefined" in text:
        return f"缺少字段 {text.split(' is undefined')[0].strip()}"
    return text


def _compile_template(env, template_id: str, spec: Any, where: str,
                      into: dict[tuple[str, int], TemplateVersion]) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get("versions"), dict) or not spec["versions"]:
        return [f"{where}: 需要 name 和 versions（a template needs name and versions: {{1: {{subject, body}}}}）"]
    problems = []
    for version, parts in spec["versions"].items():
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            problems.append(f"{where} v{version}: 版本号必须是正整数（version must be a positive integer）")
            continue
        if not isinstance(parts, dict) or not isinstance(parts.get("subject"), str) \
                or not isinstance(parts.get("body"), str):
            problems.append(f"{where} v{version}: 需要 subject 和 body 文本（subject and body are required）")
            continue
        compiled: dict[str, Callable] = {}
        for part in ("subject", "body", "sms"):
            source = parts.get(part, parts["body"])
            if not isinstance(source, str):
                problems.append(f"{where} v{version} {part}: 必须是文本（must be text）")
                continue
            try:
                compiled[part] = env.from_string(source)
            except TemplateError as exc:
                line = getattr(exc, "lineno", None)
                problems.append(f"{where} v{version} {part}{f' 第 {line} 行' if line else ''}: "
                                f"模板语法错误（template syntax error）：{exc}")
        example = parts.get("example") or {}
        if not isinstance(example, dict):
            problems.append(f"{where} v{version}: example 必须是 字段 → 示例值 的映射（example must be a mapping）")
            continue
        if len(compiled) == 3:
            into[(template_id, version)] = TemplateVersion(template_id, version, str(spec.get("name", template_id)),
                                                           compiled["subject"], compiled["body"], compiled["sms"],
                                                           example)
    return problems
