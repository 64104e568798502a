// Two versions of a process side by side: elements added (green, new side), removed (red, old side), changed
// (orange, both sides) and only moved (blue). bpmn-js-differ finds the changes of ids, names and attributes;
// changes inside an element (a timer's expression, a handler, a form) are found by comparing what each element
// holds, so a new working-day limit shows as a change too.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { diff } from "bpmn-js-differ";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";

import lianxinModdle from "../lib/lianxin-moddle.json";
import spiffModdle from "../lib/spiffworkflow-moddle.json";
import { translate } from "../lib/translate-zh.js";
import "../lib/designer.css";
import { isEnglish, t } from "../lib/texts.js";

const SKIP = new Set(["flowElements", "laneSets", "lanes", "childLaneSet", "flowNodeRef", "incoming", "outgoing",
  "artifacts", "di", "participants", "messageFlows", "rootElements", "diagrams"]);

// What an element holds, apart from its children elements and references: compared between the versions.
function fingerprint(el, depth = 0) {
  if (el === null || el === undefined || depth > 8) return "";
  if (typeof el !== "object") return String(el);
  if (Array.isArray(el)) return `[${el.map((v) => fingerprint(v, depth + 1)).join(",")}]`;
  const parts = [el.$type || ""];
  const descriptor = el.$descriptor;
  for (const p of (descriptor && descriptor.properties) || []) {
    if (SKIP.has(p.name) || p.isReference || p.name === "id" && depth > 0) continue;
    const v = el.get ? el.get(p.name) : el[p.name];
    if (v === undefined || (Array.isArray(v) && !v.length)) continue;
    parts.push(`${p.name}=${fingerprint(v, depth + 1)}`);
  }
  for (const [k, v] of Object.entries(el.$attrs || {})) parts.push(`@${k}=${v}`);
  return parts.join(";");
}

function typeName(el) {
  const words = (el.$type || "").replace(/^bpmn:/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  if (isEnglish()) return words;
  const label = translate(words);
  return label === words ? el.$type : label;
}

function describeInside(el) {
  const out = [];
  for (const d of el.get ? (el.get("eventDefinitions") || []) : []) {
    for (const k of ["timeDate", "timeDuration", "timeCycle"]) if (d.get(k)) out.push(d.get(k).get("body"));
  }
  const ext = el.get ? el.get("extensionElements") : null;
  for (const v of (ext && ext.get("values")) || []) {
    if (v.$type === "spiffworkflow:ServiceTaskOperator") out.push(t("处理程序 {id}", { id: v.get("id") }));
    if (v.$type === "spiffworkflow:Properties") {
      for (const p of v.get("property") || []) out.push(`${p.get("name")}=${p.get("value")}`);
    }
  }
  if (el.get && el.get("lianxin:role")) out.push(t("角色 {role}", { role: el.get("lianxin:role") }));
  return out.join("；");
}

async function load(key, version) {
  const res = await fetch(`/api/designer/processes/${encodeURIComponent(key)}?version=${version}`, { credentials: "same-origin" });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error ? data.error.message : t("版本 {v} 无法载入", { v: version }));
  return data.files[data.main_file];
}

function viewer(container) {
  return new NavigatedViewer({ container, moddleExtensions: { spiffworkflow: spiffModdle, lianxin: lianxinModdle } });
}

function shapeFor(registry, el) {
  let cur = el;
  while (cur) {
    if (cur.id && registry.get(cur.id)) return registry.get(cur.id);
    cur = cur.$parent;
  }
  return null;
}

function addRow(tbody, kind, el, text) {
  const tr = document.createElement("tr");
  tr.className = `diff-${kind}`;
  tr.dataset.elementId = el.id;
  tr.title = t("点击定位到此元素");
  for (const cell of [{ added: t("新增"), removed: t("已删除"), changed: t("修改"), layout: t("仅位置变化") }[kind],
    el.name ? `${el.name}（${el.id}）` : el.id, typeName(el), text]) {
    const td = document.createElement("td");
    td.textContent = cell || "";
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

async function start(root) {
  const { key, a, b } = root.dataset;
  const left = viewer("#diff-left");
  const right = viewer("#diff-right");
  const [xa, xb] = await Promise.all([load(key, a), load(key, b)]);
  await left.importXML(xa);
  await right.importXML(xb);
  left.get("canvas").zoom("fit-viewport");
  right.get("canvas").zoom("fit-viewport");
  const defA = left.getDefinitions();
  const defB = right.getDefinitions();
  const result = diff(defA, defB);
  const regA = left.get("elementRegistry");
  const regB = right.get("elementRegistry");
  const tbody = document.querySelector("#diff-table tbody");
  const counts = { added: 0, removed: 0, changed: 0, layout: 0 };
  const mark = (reg, canvas, el, cls) => {
    const shape = shapeFor(reg, el);
    if (shape) canvas.addMarker(shape.id, cls);
  };
  for (const el of Object.values(result._added)) {
    if (!el.id) continue;
    counts.added += 1;
    mark(regB, right.get("canvas"), el, "lx-added");
    addRow(tbody, "added", el, describeInside(el));
  }
  for (const el of Object.values(result._removed)) {
    if (!el.id) continue;
    counts.removed += 1;
    mark(regA, left.get("canvas"), el, "lx-removed");
    addRow(tbody, "removed", el, describeInside(el));
  }
  // changed: every element present in both whose content differs
  const changed = new Set();
  for (const shapeB of regB.getAll()) {
    const elB = shapeB.businessObject;
    if (!elB || !elB.id || shapeB.type === "label" || shapeB.labelTarget) continue;
    const shapeA = regA.get(elB.id);
    if (!shapeA) continue;
    const elA = shapeA.businessObject;
    if (fingerprint(elA) === fingerprint(elB)) continue;
    changed.add(elB.id);
    counts.changed += 1;
    left.get("canvas").addMarker(shapeA.id, "lx-changed");
    right.get("canvas").addMarker(shapeB.id, "lx-changed");
    const names = elA.name !== elB.name ? t("名称：{a} → {b}；", { a: elA.name || t("（无）"), b: elB.name || t("（无）") }) : "";
    const inside = describeInside(elA) !== describeInside(elB)
      ? `${describeInside(elA) || t("（无）")} → ${describeInside(elB) || t("（无）")}` : t("其他属性有变化");
    addRow(tbody, "changed", elB, names + inside);
  }
  for (const el of Object.values(result._layoutChanged)) {
    if (!el.id || changed.has(el.id) || result._added[el.id] || result._removed[el.id]) continue;
    counts.layout += 1;
    mark(regA, left.get("canvas"), el, "lx-layout");
    mark(regB, right.get("canvas"), el, "lx-layout");
    addRow(tbody, "layout", el, "");
  }
  // Both diagrams move together; a row of the list takes both to its element.
  let syncing = false;
  const follow = (from, to) => from.on("canvas.viewbox.changed", ({ viewbox }) => {
    if (syncing) return;
    syncing = true;
    to.get("canvas").viewbox({ x: viewbox.x, y: viewbox.y, width: viewbox.width, height: viewbox.height });
    syncing = false;
  });
  follow(left, right);
  follow(right, left);
  const focus = (id) => {
    const shape = regB.get(id) || regA.get(id);
    const owner = regB.get(id) ? right : left;
    if (!shape) return;
    const canvas = owner.get("canvas");
    canvas.zoom(1.0);
    const vb = canvas.viewbox();
    canvas.viewbox({ x: shape.x + (shape.width || 0) / 2 - vb.width / 2, y: shape.y + (shape.height || 0) / 2 - vb.height / 2,
      width: vb.width, height: vb.height });
  };
  for (const tr of tbody.querySelectorAll("tr")) {
    tr.classList.add("clickable");
    tr.addEventListener("click", () => focus(tr.dataset.elementId));
  }
  const first = tbody.querySelector("tr");
  if (first) focus(first.dataset.elementId);
  document.getElementById("diff-summary").textContent = counts.added + counts.removed + counts.changed + counts.layout
    ? t("新增 {added} 处，删除 {removed} 处，修改 {changed} 处，仅位置变化 {layout} 处。", counts)
    : t("两个版本的流程图相同（差别可能在决策表或表单中）。");
  root.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("diff");
  if (root) {
    start(root).catch((err) => {
      document.getElementById("diff-summary").textContent = t("无法比较：{error}", { error: err.message });
    });
  }
});
