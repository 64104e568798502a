// The auditor's visual replay: the case's diagram (read-only), a slider and step buttons over the journal's
// events; at each step the active and completed elements and the sequence flows taken are marked, and the data
// and deadlines as they stood are listed. Each step is fetched from GET /api/cases/{id}/replay?seq=N.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import { dueText } from "../lib/due-date.js";

const MARKERS = ["replay-active", "replay-completed", "replay-flow"];

function readJson(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

function text(tag, content, className) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  el.textContent = content;
  return el;
}

// Names, not codes: a case-data value as people read it; records as "名称：值", codes (units, processes, roles,
// element ids) by their names, from the page's `names` (web/labels.py names_for_scripts).
function codePattern(names) {
  const codes = Object.keys(names.codes || {}).sort((a, b) => b.length - a.length)
    .map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return codes.length ? new RegExp(`(?<![A-Za-z0-9_])(${codes.join("|")})(?![A-Za-z0-9_])`, "g") : null;
}

function readable(value, names, pattern) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return String(value ? names.yes ?? value : names.no ?? value);
  if (Array.isArray(value)) {
    return value.map((v) => (v && typeof v === "object" && !Array.isArray(v)
      ? `（${readable(v, names, pattern)}）` : readable(v, names, pattern))).join("、");
  }
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${names.fields[k] || k}：${readable(v, names, pattern)}`).join("；");
  }
  const textValue = String(value);
  if (names.elements[textValue]) return names.elements[textValue];
  return pattern ? textValue.replace(pattern, (m) => names.codes[m] || m) : textValue;
}

// How a day is written: the page's "date" text (2026年3月9日 in Chinese), set when the replay starts.
let dayText = "{y}-{m}-{d}";

// A due instant in Beijing time; a deadline ending at midnight reads as 24:00 of its last day (lib/due-date.js).
const beijing = (iso) => dueText(iso, dayText, true);

class Replay {
  constructor(cfg, xml, t) {
    if (t.date) dayText = t.date;
    this.cfg = cfg;
    this.t = t;
    this.steps = cfg.steps;
    this.names = { fields: {}, elements: {}, codes: {}, ...(cfg.names || {}) };
    this.codes = codePattern(this.names);
    this.slider = document.getElementById("replay-slider");
    this.canvasEl = document.getElementById("replay-canvas");
    this.error = document.getElementById("replay-error");
    this.marked = [];
    this.request = 0;
    this.viewer = this.canvasEl ? new NavigatedViewer({ container: this.canvasEl }) : null;
    this.ready = this.viewer
      ? this.viewer.importXML(xml).then(() => this.viewer.get("canvas").zoom("fit-viewport", "auto"))
      : Promise.resolve();
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
    document.querySelectorAll("[data-step]").forEach((b) => b.addEventListener("click", () => {
      const i = Number(this.slider.value);
      const to = { first: 0, prev: i - 1, next: i + 1, last: this.steps.length - 1 }[b.dataset.step];
      this.go(Math.max(0, Math.min(this.steps.length - 1, to)));
    }));
    document.addEventListener("keydown", (e) => {
      if (e.target === this.slider) return;
      if (e.key === "ArrowLeft") document.querySelector('[data-step="prev"]').click();
      if (e.key === "ArrowRight") document.querySelector('[data-step="next"]').click();
    });
  }

  async go(index) {
    this.slider.value = String(index);
    const step = this.steps[index];
    const mine = ++this.request;
    document.getElementById("replay-step").replaceChildren(
      text("strong", fill(this.t.step, { n: index + 1, total: this.steps.length })),
      text("span", ` · #${step.seq} ${step.label}${step.element_id ? " · " + (step.element_name || step.element_id) : ""} · ${step.at} · ${this.t.by} ${step.actor}`),
    );
    try {
      const res = await fetch(`${this.cfg.api}?seq=${step.seq}`, { credentials: "same-origin",
        headers: { Accept: "application/json" } });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
      await this.ready;
      if (mine !== this.request) return; // a later step was asked for meanwhile
      this.error.hidden = true;
      this.mark(body);
      this.renderData(body.data || {});
      this.renderDeadlines(body.deadlines || []);
      if (this.canvasEl) this.canvasEl.dataset.seq = String(body.seq);
    } catch (err) {
      this.error.textContent = this.t.error + err.message;
      this.error.hidden = false;
    }
  }

  mark(snap) {
    if (!this.viewer) return;
    const canvas = this.viewer.get("canvas");
    const registry = this.viewer.get("elementRegistry");
    for (const [id, cls] of this.marked) canvas.removeMarker(id, cls);
    this.marked = [];
    const add = (id, cls) => {
      if (registry.get(id)) {
        canvas.addMarker(id, cls);
        this.marked.push([id, cls]);
      }
    };
    const active = new Set(snap.active.map((a) => a.element_id));
    snap.completed.forEach((id) => { if (!active.has(id)) add(id, "replay-completed"); });
    snap.flows.forEach((id) => add(id, "replay-flow"));
    active.forEach((id) => add(id, "replay-active"));
    this.canvasEl.dataset.active = [...active].sort().join(" ");
  }

  renderData(data) {
    const box = document.getElementById("replay-data");
    const keys = Object.keys(data).sort();
    if (!keys.length) return box.replaceChildren(text("p", this.t.no_data, "muted"));
    const table = document.createElement("table");
    table.className = "grid replay-vars";
    const names = this.names;
    for (const key of keys) {
      const row = table.insertRow();
      const value = data[key];
      const cell = document.createElement("td");
      const line = readable(value, names, this.codes);
      if (value !== null && typeof value === "object" && line.length > 80) {
        const details = document.createElement("details");
        details.append(text("summary", line.slice(0, 80) + "…"), text("pre", line.split("；").join("\n")));
        cell.append(details);
      } else {
        cell.textContent = line;
      }
      const th = text("th", names.fields[key] || key);
      th.title = key; // the variable's own name, for the auditor who needs it
      th.dataset.key = key;
      row.append(th, cell);
    }
    box.replaceChildren(table);
  }

  renderDeadlines(list) {
    const box = document.getElementById("replay-deadlines");
    if (!list.length) return box.replaceChildren(text("p", this.t.no_deadlines, "muted"));
    const ul = document.createElement("ul");
    ul.className = "replay-deadlines";
    const ordered = [...list].sort((a, b) => Number(b.running) - Number(a.running) || a.seq - b.seq);
    for (const d of ordered) {
      const li = document.createElement("li");
      li.dataset.element = d.element_id;
      const state = d.paused ? this.t.paused : d.running ? this.t.running : this.t.ended;
      li.append(text("strong", this.names.elements[d.element_id] || d.element_id), text("span", ` · ${state}`, d.running ? "tag" : "muted"));
      const versions = Object.entries(d.calendar_versions || {})
        .map(([year, v]) => `${year} ${fill(this.t.version, { v })}`).join("，") || "—";
      const facts = [
        `${this.t.due}: ${beijing(d.due_at)}`,
        `${this.t.rule}: ${d.n ?? ""} ${this.t[d.rule] || d.rule || ""}`,
        `${this.t.calendar}: ${versions}${d.provisional ? " · " + this.t.provisional : ""}`,
        fill(this.t.computed_at, { seq: d.seq }),
      ];
      for (const h of d.history || []) facts.push(`#${h.seq} ${this.t.changed}: ${beijing(h.old_due_at)} → ${h.new_due_at ? beijing(h.new_due_at) : "—"}`);
      for (const f of facts) li.append(text("div", f, "muted"));
      if (d.explanation) {
        const details = document.createElement("details");
        details.append(text("summary", this.t.rule), text("pre", d.explanation));
        li.append(details);
      }
      ul.append(li);
    }
    box.replaceChildren(ul);
  }
}

const cfg = readJson("replay-config");
if (cfg && cfg.steps.length) {
  const replay = new Replay(cfg, readJson("replay-diagram"), readJson("replay-texts"));
  window.lianxinReplay = replay;
  replay.go(cfg.steps.length - 1);
}
