// Two versions of a process side by side. What changed is worked out on the server (services/definition_diff.py)
// and listed in the page's table, one row per element with its file and kind of change; this script draws both
// versions and marks those elements: added in green (new side), removed in red (old side), changed in amber and
// moved only in blue (both sides). A row of the list takes both diagrams to its element.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";

import lianxinModdle from "../lib/lianxin-moddle.json";
import spiffModdle from "../lib/spiffworkflow-moddle.json";
import "../lib/designer.css";
import { t } from "../lib/texts.js";

// on which side(s) a change is marked, and how
const MARKS = {
  added: [["right", "lx-added"]],
  removed: [["left", "lx-removed"]],
  changed: [["left", "lx-changed"], ["right", "lx-changed"]],
  layout: [["left", "lx-layout"], ["right", "lx-layout"]],
};

async function load(key, version, file) {
  const res = await fetch(`/api/designer/processes/${encodeURIComponent(key)}?version=${version}`, { credentials: "same-origin" });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error ? data.error.message : t("版本 {v} 无法载入", { v: version }));
  return data.files[file] || data.files[data.main_file];
}

function viewer(container) {
  return new NavigatedViewer({ container, moddleExtensions: { spiffworkflow: spiffModdle, lianxin: lianxinModdle } });
}

function markChanges(rows, sides) {
  for (const tr of rows) {
    for (const [side, cls] of MARKS[tr.dataset.change] || []) {
      const { viewer: v, file } = sides[side];
      const shape = v.get("elementRegistry").get(tr.dataset.elementId);
      if (tr.dataset.file === file && shape) v.get("canvas").addMarker(shape.id, cls);
    }
  }
}

function syncViews(left, right) {
  let syncing = false;
  const follow = (from, to) => from.on("canvas.viewbox.changed", ({ viewbox }) => {
    if (syncing) return;
    syncing = true;
    to.get("canvas").viewbox({ x: viewbox.x, y: viewbox.y, width: viewbox.width, height: viewbox.height });
    syncing = false;
  });
  follow(left, right);
  follow(right, left);
}

function focuser(left, right) {
  return (id) => {
    const owner = right.get("elementRegistry").get(id) ? right : left;
    const shape = owner.get("elementRegistry").get(id);
    if (!shape) return;
    const canvas = owner.get("canvas");
    canvas.zoom(1.0);
    const vb = canvas.viewbox();
    canvas.viewbox({ x: shape.x + (shape.width || 0) / 2 - vb.width / 2, y: shape.y + (shape.height || 0) / 2 - vb.height / 2,
      width: vb.width, height: vb.height });
  };
}

async function start(root) {
  const { key, a, b, mainA, mainB } = root.dataset;
  const left = viewer("#diff-left");
  const right = viewer("#diff-right");
  const [xa, xb] = await Promise.all([load(key, a, mainA), load(key, b, mainB)]);
  await left.importXML(xa);
  await right.importXML(xb);
  left.get("canvas").zoom("fit-viewport");
  right.get("canvas").zoom("fit-viewport");
  const rows = [...document.querySelectorAll("#diff-table tbody tr[data-element-id]")];
  markChanges(rows, { left: { viewer: left, file: mainA }, right: { viewer: right, file: mainB } });
  syncViews(left, right);
  const focus = focuser(left, right);
  const shown = rows.filter((tr) => tr.dataset.file === mainB || tr.dataset.file === mainA);
  for (const tr of shown) {
    tr.classList.add("clickable");
    tr.title = t("点击定位到此元素");
    tr.addEventListener("click", () => focus(tr.dataset.elementId));
  }
  if (shown.length) focus(shown[0].dataset.elementId);
  root.dataset.ready = "1";
}

// A wide decision table (the settings have twenty columns) opens scrolled to its first changed cell.
function revealChangedCells() {
  for (const box of document.querySelectorAll(".diff-table-scroll")) {
    const cell = box.querySelector("td.diff-cell-changed");
    if (cell && cell.offsetLeft + cell.offsetWidth > box.clientWidth) box.scrollLeft = cell.offsetLeft - box.clientWidth / 3;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  revealChangedCells();
  const root = document.getElementById("diff");
  if (root) {
    start(root).catch((err) => {
      document.getElementById("diff-summary").textContent = t("无法比较：{error}", { error: err.message });
    });
  }
});
