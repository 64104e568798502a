// Moving open cases to a newer version of their process (designer/migrate.html): a dry run first, then the cases
// chosen. Texts come through gettext in the page's #lx-texts block.
import { dueText } from "../lib/due-date.js";
import { t } from "../lib/texts.js";

(function () {
  const root = document.getElementById("migration");
  if (!root) return;
  // The form only starts a dry run from its button; Enter in it must not reload the page.
  document.getElementById("migration-form").addEventListener("submit", (e) => e.preventDefault());
  const target = Number(root.dataset.target);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const statusEl = document.getElementById("migration-status");
  const tbody = document.querySelector("#migration-table tbody");
  // a deadline's due day (Beijing time; 24:00 belongs to its own day), as the server's duedate filter prints it
  const fmt = (iso) => dueText(iso, t("{y}年{m}月{d}日"));
  const post = async (url, body) => {
    const res = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    return { ok: res.ok, data };
  };
  const cell = (tr, text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; };
  function show(result) {
    tbody.innerHTML = "";
    document.getElementById("migration-table").hidden = !result.cases.length;
    for (const c of result.cases) {
      const tr = document.createElement("tr");
      tr.dataset.caseId = c.case_id;
      const td = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox"; box.value = c.case_id; box.disabled = !c.can_move; box.checked = c.can_move;
      box.setAttribute("aria-label", t("选择案件 {no}", { no: c.case_no || c.case_id }));
      td.appendChild(box); tr.appendChild(td);
      cell(tr, (c.case_no || ("#" + c.case_id)) + (c.title ? " " + c.title : ""));
      cell(tr, t("第 {v} 版", { v: c.from_version }));
      cell(tr, c.position.join("、") || "—");
      cell(tr, c.can_move ? t("可以迁移") : t("不能迁移：{reason}", { reason: c.reason }), c.can_move ? "ok" : "field-error");
      cell(tr, c.deadlines.map((d) => d.label + "：" + fmt(d.old_due_at) + " → " + fmt(d.new_due_at)).join("；") || t("无变化"));
      tbody.appendChild(tr);
    }
    document.getElementById("btn-migrate").hidden = !result.can_move;
    document.getElementById("check-all").checked = result.can_move > 0;
  }
  document.getElementById("btn-dry-run").addEventListener("click", async () => {
    statusEl.textContent = t("正在试迁移……");
    const from = document.getElementById("from-version").value;
    const body = { to_definition_id: target };
    if (from) body.from_definition_id = Number(from);
    const res = await post("/api/designer/migrations/check", body);
    if (!res.ok) { statusEl.textContent = res.data.error ? res.data.error.message : t("试迁移失败"); return; }
    show(res.data);
    statusEl.textContent = res.data.cases.length
      ? t("试迁移完成：{can} 件可以迁移，{cannot} 件不能迁移（原因见表格）。尚未改动任何案件。", { can: res.data.can_move, cannot: res.data.cannot_move })
      : t("没有需要迁移的在办案件。");
    if (res.data.hidden) statusEl.textContent += t("另有 {n} 件您无权查看的案件（如检举控告件）未列出，也不会被迁移。", { n: res.data.hidden });
  });
  document.getElementById("check-all").addEventListener("change", (e) => {
    for (const box of tbody.querySelectorAll("input[type=checkbox]:not(:disabled)")) box.checked = e.target.checked;
  });
  document.getElementById("btn-migrate").addEventListener("click", async () => {
    const ids = [...tbody.querySelectorAll("input[type=checkbox]:checked")].map((b) => Number(b.value));
    if (!ids.length) { statusEl.textContent = t("请先勾选要迁移的案件。"); return; }
    if (!window.confirm(t("确定把所选的 {n} 个案件迁移到第 {v} 版吗？", { n: ids.length, v: root.dataset.targetVersion }))) return;
    statusEl.textContent = t("正在迁移……");
    const res = await post("/api/designer/migrations", { to_definition_id: target, case_ids: ids });
    if (!res.ok) { statusEl.textContent = (res.data.error ? res.data.error.message : t("迁移失败")) + t("（未迁移任何案件）"); return; }
    statusEl.textContent = t("已迁移 {n} 个案件到第 {v} 版，每个案件的办理记录中都已记下这次迁移。", { n: res.data.migrated.length, v: root.dataset.targetVersion });
    document.getElementById("btn-migrate").hidden = true;
    for (const c of res.data.migrated) {
      const tr = tbody.querySelector('tr[data-case-id="' + c.case_id + '"]');
      if (tr) { tr.children[2].textContent = t("第 {v} 版", { v: c.to_version }); tr.children[4].textContent = t("已迁移"); tr.querySelector("input").disabled = true; }
    }
  });
})();
