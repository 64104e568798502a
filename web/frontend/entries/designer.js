// The process designer page: bpmn-js Modeler with the properties panel and Lianxin's own group, the DMN tables
// of the process (dmn-js, from dmn.js), drafts saved on the server, validation with the deployment's checks
// (problems listed and marked on the diagram) and deployment with a required comment.
import BpmnModeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";

import lianxinModdle from "../lib/lianxin-moddle.json";
import spiffModdle from "../lib/spiffworkflow-moddle.json";
import { LianxinPropertiesModule } from "../lib/lianxin-properties.jsx";
import { TranslateZhModule } from "../lib/translate-zh.js";
import { keepLoopVariableRefs } from "../lib/loop-refs.js";
import "../lib/designer.css";
import { cnDateTime, isEnglish, t } from "../lib/texts.js";
import { failureText, showSimulation } from "../lib/simulation-view.js";

const $ = (sel) => document.querySelector(sel);
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = {};
  try { data = await res.json(); } catch (e) { data = {}; }
  return { status: res.status, ok: res.ok, data };
}

const fmtTime = cnDateTime;

class Designer {
  constructor(root) {
    this.root = root;
    this.key = root.dataset.key;
    this.requested = root.dataset.version || "";
    this.dirty = new Set();   // names of files changed since the last save
    this.edited = {};         // file name -> text of DMN files opened and changed
    this.dmnEditors = {};
    this.problems = [];
    this.overlayIds = [];
  }

  status(text, kind = "") {
    const el = $("#designer-status");
    el.textContent = text;
    el.className = `designer-status ${kind}`;
  }

  async start() {
    const [handlers, forms, roles] = await Promise.all([
      api("GET", "/api/designer/handlers"), api("GET", "/api/designer/forms"), api("GET", "/api/designer/roles")]);
    this.catalog = { handlers: handlers.data.handlers || [], forms: forms.data.forms || [], roles: roles.data.roles || [] };
    const q = this.requested ? `?version=${encodeURIComponent(this.requested)}` : "";
    const res = await api("GET", `/api/designer/processes/${encodeURIComponent(this.key)}${q}`);
    if (!res.ok) {
      this.status(res.data.error ? res.data.error.message : t("无法载入流程"), "red");
      return;
    }
    this.process = res.data;
    this.baseId = res.data.definition_id;
    this.mainFile = res.data.main_file;
    this.files = res.data.files;
    const draft = res.data.draft;
    this.draftStamp = draft ? draft.updated_at : null;
    let mainXml = this.files[this.mainFile];
    if (draft && (!this.requested || String(draft.base_version) === String(this.requested))) {
      this.baseId = draft.base_definition_id;
      if (draft.base_definition_id !== res.data.definition_id) {
        const base = await api("GET", `/api/designer/processes/${encodeURIComponent(this.key)}?version=${draft.base_version}`);
        this.files = base.data.files;
      }
      for (const [name, text] of Object.entries(draft.files)) {
        if (name === this.mainFile) mainXml = text;
        else this.edited[name] = text;
      }
      this.showDraftBanner(draft);
    }
    $("#designer-base").textContent = this.baseId === null
      ? t("导入的新流程（{file}）", { file: draft.imported_from || this.mainFile })
      : t("基于第 {v} 版", { v: draft && this.baseId === draft.base_definition_id ? draft.base_version : res.data.version });

    this.modeler = new BpmnModeler({
      container: "#designer-canvas",
      propertiesPanel: { parent: "#designer-properties" },
      additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, LianxinPropertiesModule,
        ...(isEnglish() ? [] : [TranslateZhModule])],
      moddleExtensions: { spiffworkflow: spiffModdle, lianxin: lianxinModdle },
      lianxinCatalog: this.catalog,
    });
    window.lianxinModeler = this.modeler;  // for tests and the browser console
    const result = await this.modeler.importXML(mainXml);
    const warnings = keepLoopVariableRefs(this.modeler, result.warnings);
    if (warnings.length) {
      for (const w of warnings) console.warn("import:", w.message);
      this.status(t("已打开，有 {n} 处无法识别的内容已原样保留", { n: warnings.length }), "yellow");
    } else {
      this.status(t("已打开，可以修改"), "");
    }
    this.modeler.get("canvas").zoom("fit-viewport");
    this.modeler.on("commandStack.changed", () => { this.dirty.add(this.mainFile); this.status(t("有未保存的修改"), "yellow"); });
    this.buildTabs();
    this.bindButtons();
    window.addEventListener("beforeunload", (e) => { if (this.dirty.size) { e.preventDefault(); e.returnValue = ""; } });
    if (draft && draft.imported_from) await this.validate();  // an imported file opens with its problems marked
    this.root.dataset.ready = "1";
  }

  showDraftBanner(draft) {
    const el = $("#designer-draft");
    el.hidden = false;
    $("#designer-draft-text").textContent = draft.base_version === null
      ? t("已打开 {author} 于 {time} 导入的草稿（{file}），尚未部署。", { author: draft.author, time: fmtTime(draft.updated_at), file: draft.imported_from || "" })
      : t("已打开 {author} 于 {time} 保存的草稿（基于第 {v} 版）。", { author: draft.author, time: fmtTime(draft.updated_at), v: draft.base_version });
  }

  buildTabs() {
    const tabs = $("#designer-tabs");
    const add = (name, label) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "tab";
      b.dataset.file = name;
      b.textContent = label;
      b.addEventListener("click", () => this.showFile(name));
      tabs.appendChild(b);
    };
    add(this.mainFile, t("流程图（{file}）", { file: this.mainFile }));
    for (const name of Object.keys(this.files).sort()) {
      if (name.endsWith(".dmn")) add(name, t("决策表（{file}）", { file: name }));
    }
    this.showFile(this.mainFile);
  }

  async showFile(name) {
    for (const b of document.querySelectorAll("#designer-tabs .tab")) b.classList.toggle("active", b.dataset.file === name);
    const isMain = name === this.mainFile;
    $("#designer-bpmn").hidden = !isMain;
    for (const el of document.querySelectorAll(".designer-dmn")) el.hidden = el.dataset.file !== name;
    if (isMain || this.dmnEditors[name]) return;
    if (!window.LianxinDmnModeler) { this.status(t("决策表编辑器未加载"), "red"); return; }
    const holder = document.createElement("div");
    holder.className = "designer-dmn";
    holder.dataset.file = name;
    $("#designer-dmn-area").appendChild(holder);
    const dmn = window.LianxinDmnModeler.create(holder);
    this.dmnEditors[name] = dmn;
    await dmn.importXML(this.edited[name] || this.files[name]);
    const table = dmn.getViews().find((v) => v.type === "decisionTable");
    if (table) await dmn.open(table);
    // each view of the DMN file (table, diagram) has its own command stack: follow whichever is open
    const markDirty = () => { this.dirty.add(name); this.status(t("有未保存的修改"), "yellow"); };
    const follow = () => {
      const active = dmn.getActiveViewer();
      if (active && !active.__lianxin) { active.__lianxin = true; active.on("commandStack.changed", markDirty); }
    };
    dmn.on("views.changed", follow);
    follow();
  }

  async collectFiles() {
    const { xml } = await this.modeler.saveXML({ format: true });
    const files = { [this.mainFile]: xml };
    for (const [name, text] of Object.entries(this.edited)) files[name] = text;
    for (const [name, dmn] of Object.entries(this.dmnEditors)) {
      if (this.dirty.has(name) || this.edited[name]) {
        const out = await dmn.saveXML({ format: true });
        files[name] = out.xml;
      }
    }
    return files;
  }

  bindButtons() {
    $("#btn-validate").addEventListener("click", () => this.validate());
    $("#btn-save").addEventListener("click", () => this.saveDraft());
    $("#btn-deploy").addEventListener("click", () => this.openDeploy());
    $("#btn-download").addEventListener("click", () => this.download());
    $("#deploy-cancel").addEventListener("click", () => $("#deploy-dialog").close());
    $("#deploy-form").addEventListener("submit", (e) => { e.preventDefault(); this.deploy(); });
    const discard = $("#btn-discard");
    if (discard) discard.addEventListener("click", () => this.discardDraft());
  }

  async validate() {
    this.status(t("正在校验……"));
    const files = await this.collectFiles();
    const res = await api("POST", `/api/designer/processes/${encodeURIComponent(this.key)}/validate`,
      { base_definition_id: this.baseId, files });
    if (!res.ok) { this.status(res.data.error ? res.data.error.message : t("校验失败"), "red"); return false; }
    this.showProblems(res.data.problems, res.data.warnings || []);
    const failure = showSimulation($("#designer-simulation"), res.data.simulation);
    if (failure) this.status(failureText(failure), "red");
    else if (res.data.ok && (res.data.warnings || []).length) this.status(t("校验通过，但有需要注意的事项（见下方）"), "yellow");
    else if (res.data.ok) this.status(t("校验通过：可以部署"), "green");
    else this.status(t("发现 {n} 个问题，请按下方列表修改", { n: res.data.problems.length }), "red");
    return res.data.ok;
  }

  async saveDraft() {
    const files = await this.collectFiles();
    const res = await api("PUT", `/api/designer/processes/${encodeURIComponent(this.key)}/draft`,
      { base_definition_id: this.baseId, files, expected_updated_at: this.draftStamp });
    if (!res.ok) { this.status(res.data.error ? res.data.error.message : t("保存失败"), "red"); return; }
    this.dirty.clear();
    this.draftStamp = res.data.draft.updated_at;
    this.showDraftBanner(res.data.draft);
    this.status(t("草稿已保存（{time}）", { time: fmtTime(res.data.draft.updated_at) }), "green");
  }

  async discardDraft() {
    if (!window.confirm(t("确定丢弃草稿吗？丢弃后将重新打开已部署的版本。"))) return;
    const res = await api("DELETE", `/api/designer/processes/${encodeURIComponent(this.key)}/draft`);
    // an imported process that was never deployed has nothing to go back to but the list
    if (res.ok || res.status === 404) { this.dirty.clear(); if (this.baseId === null) window.location.assign("/designer"); else window.location.reload(); }
    else this.status(res.data.error ? res.data.error.message : t("丢弃失败"), "red");
  }

  openDeploy() {
    $("#deploy-error").textContent = "";
    $("#deploy-dialog").showModal();
    $("#deploy-comment").focus();
  }

  async deploy() {
    const comment = $("#deploy-comment").value.trim();
    if (!comment) { $("#deploy-error").textContent = t("请填写部署说明：改了什么、为什么改。"); return; }
    $("#deploy-submit").disabled = true;
    try {
      const files = await this.collectFiles();
      const res = await api("POST", `/api/designer/processes/${encodeURIComponent(this.key)}/deploy`,
        { base_definition_id: this.baseId, files, comment });
      if (res.status === 422 && res.data.problems) {
        $("#deploy-dialog").close();
        this.showProblems(res.data.problems);
        const failure = showSimulation($("#designer-simulation"), res.data.simulation);
        this.status(failure ? failureText(failure) : t("未部署：发现 {n} 个问题，请先修改", { n: res.data.problems.length }), "red");
        return;
      }
      if (!res.ok) { $("#deploy-error").textContent = res.data.error ? res.data.error.message : t("部署失败"); return; }
      this.dirty.clear();
      this.draftStamp = null;  // the draft is gone once deployed
      $("#deploy-dialog").close();
      this.showProblems([]);
      showSimulation($("#designer-simulation"), res.data.simulation);
      const v = res.data.version;
      const mine = (res.data.versions || []).find((x) => x.process_key === this.key);
      if (mine) {  // further edits build on what was just deployed
        this.baseId = mine.definition_id;
        $("#designer-base").textContent = t("基于第 {v} 版", { v: mine.version });
      }
      const done = $("#designer-deployed");
      done.hidden = false;
      $("#designer-deployed-text").textContent = res.data.created
        ? t("已部署为第 {v} 版。新登记的案件使用新版本；在办案件仍在原版本上，可在“迁移案件”中迁移。", { v })
        : t("内容与第 {v} 版相同，未产生新版本。", { v });
      $("#designer-draft").hidden = true;
      this.status(res.data.created ? t("已部署第 {v} 版", { v }) : t("没有变化"), "green");
    } finally {
      $("#deploy-submit").disabled = false;
    }
  }

  async download() {
    const { xml } = await this.modeler.saveXML({ format: true });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    a.download = this.mainFile;
    a.click();
  }

  showProblems(problems, warnings = []) {
    this.problems = problems;
    const canvas = this.modeler.get("canvas");
    const overlays = this.modeler.get("overlays");
    const registry = this.modeler.get("elementRegistry");
    for (const id of this.marked || []) canvas.removeMarker(id, "lx-problem");
    overlays.remove({ type: "lx-problem" });
    this.marked = [];
    const list = $("#problem-list");
    list.innerHTML = "";
    $("#designer-problems").hidden = !problems.length && !warnings.length;
    $("#designer-problems h2").textContent = problems.length ? t("需要修改的问题") : t("请注意");
    const byElement = {};
    for (const p of [...problems, ...warnings.map((w) => ({ ...w, warning: true }))]) {
      const li = document.createElement("li");
      if (p.warning) li.classList.add("warning");
      const shape = p.file === this.mainFile && p.element_id ? registry.get(p.element_id) : null;
      const name = shape ? (shape.businessObject.name || p.element_id) : (p.element_id || "");
      li.innerHTML = "";
      const where = document.createElement("strong");
      where.textContent = `${name ? name + "：" : ""}`;
      li.appendChild(where);
      li.appendChild(document.createTextNode(p.message));
      const small = document.createElement("span");
      small.className = "muted";
      small.textContent = `（${p.file}${p.line ? " " + t("第 {n} 行", { n: p.line }) : ""}${p.element_id ? "，" + p.element_id : ""}）`;
      li.appendChild(small);
      if (shape) {
        li.classList.add("clickable");
        li.addEventListener("click", () => {
          this.showFile(this.mainFile);
          this.modeler.get("selection").select(shape);
          canvas.scrollToElement(shape);
        });
        if (!p.warning) (byElement[p.element_id] = byElement[p.element_id] || []).push(p.message);
      } else if (p.file !== this.mainFile && this.files[p.file] && p.file.endsWith(".dmn")) {
        li.classList.add("clickable");
        li.addEventListener("click", () => this.showFile(p.file));
      }
      list.appendChild(li);
    }
    for (const [id, messages] of Object.entries(byElement)) {
      canvas.addMarker(id, "lx-problem");
      this.marked.push(id);
      const badge = document.createElement("div");
      badge.className = "lx-problem-badge";
      badge.textContent = messages.length > 1 ? t("{n} 个问题", { n: messages.length }) : t("有问题");
      badge.title = messages.join("\n");
      overlays.add(id, "lx-problem", { position: { top: -14, right: 12 }, html: badge });
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("designer");
  if (!root) return;
  const designer = new Designer(root);
  window.lianxinDesigner = designer;
  designer.start().catch((err) => {
    console.error(err);
    designer.status(t("无法打开流程图：{error}", { error: err.message }), "red");
  });
});
