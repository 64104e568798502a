"""The shape of a form's `x-facts` (the case data a decision form shows above its fields; services/decision_facts.py
reads it, docs/designer-guide.md describes it): a list of {"key": dotted path, "title": name}, optionally "long"
(true/false) and "fields" (field names of a list's records). Deployment refuses anything else, so a typo is caught
before a handler opens the form."""
from __future__ import annotations

FACTS_KEY = "x-facts"


def problems(schema: dict) -> list[tuple[str, str, str]]:
    """What is wrong with a form's `x-facts` (path, Chinese, English); empty when it is well-formed or absent."""
    if FACTS_KEY not in schema:
        return []
    return entry_problems(schema[FACTS_KEY])


def entry_problems(entries) -> list[tuple[str, str, str]]:
    if not isinstance(entries, list):
        return [(FACTS_KEY, "x-facts 必须是列表，每项写明 key（案件数据的路径）和 title（显示的名称）",
                 "x-facts must be a list of {key, title}")]
    out = []
    for i, entry in enumerate(entries):
        where = f"{FACTS_KEY}[{i}]"
        if not isinstance(entry, dict):
            out.append((where, f"x-facts 第 {i + 1} 项必须是对象：{{\"key\": ..., \"title\": ...}}",
                        f"x-facts item {i + 1} must be an object {{key, title}}"))
            continue
        key, title = entry.get("key"), entry.get("title")
        if not isinstance(key, str) or not key.strip() or any(not p for p in key.split(".")):
            out.append((where, f"x-facts 第 {i + 1} 项缺少 key，或 key 不是以点分隔的案件数据路径（如 reply_notice.text）",
                        f"x-facts item {i + 1}: key must be a dotted path into the case data"))
        if not isinstance(title, str) or not title.strip():
            out.append((where, f"x-facts 第 {i + 1} 项缺少 title（页面上显示的名称）",
                        f"x-facts item {i + 1}: title must be a non-empty string"))
        unknown = set(entry) - {"key", "title", "long", "fields"}
        if unknown:
            out.append((where, f"x-facts 第 {i + 1} 项有不认识的设置：{'、'.join(sorted(unknown))}（只能有 key、title、"
                               f"long、fields）", f"x-facts item {i + 1}: unknown keys {sorted(unknown)}"))
        if "long" in entry and not isinstance(entry["long"], bool):
            out.append((where, f"x-facts 第 {i + 1} 项的 long 必须是 true 或 false",
                        f"x-facts item {i + 1}: long must be a boolean"))
        if "fields" in entry and (not isinstance(entry["fields"], list) or not entry["fields"]
                                  or not all(isinstance(f, str) and f for f in entry["fields"])):
            out.append((where, f"x-facts 第 {i + 1} 项的 fields 必须是字段名的列表",
                        f"x-facts item {i + 1}: fields must be a list of field names"))
    return out
