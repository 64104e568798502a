// The smoke simulation's report on the designer page (部署前的模拟运行): each synthetic path with each step ticked
// or its failure named, where the path stopped waiting, and its warnings. The report is what the validate and
// deploy endpoints return as `simulation` (engine/simulation.py, SimulationReport.to_dict).
import { t } from "./texts.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function stepItem(step) {
  const li = el("li", step.ok ? "sim-step ok" : "sim-step failed");
  li.dataset.step = step.step;
  li.appendChild(el("span", "sim-mark", step.ok ? "✓" : "✗"));
  li.appendChild(el("span", "sim-label", step.step === "start" ? t("登记并启动") : step.label || step.step));
  if (!step.ok) li.appendChild(el("span", "sim-message", `：${step.message}`));
  return li;
}

function pathBlock(path) {
  const block = el("div", path.ok ? "sim-path ok" : "sim-path failed");
  block.dataset.path = path.name;
  const head = el("h3", "", `${path.ok ? "✓" : "✗"} ${path.name}`);
  block.appendChild(head);
  const steps = el("ol", "sim-steps");
  for (const step of path.steps) steps.appendChild(stepItem(step));
  block.appendChild(steps);
  if (path.stopped) block.appendChild(el("p", "sim-note", path.stopped));
  if (path.ok && path.waits.length) block.appendChild(el("p", "sim-note", t("停在等待：{waits}", { waits: path.waits.join("、") })));
  for (const warning of path.warnings || []) block.appendChild(el("p", "sim-warning", warning));
  return block;
}

// Shows `report` in `section` (hidden when there is nothing to show). Returns the first failed path and step.
export function showSimulation(section, report) {
  const body = section.querySelector(".sim-body");
  body.innerHTML = "";
  section.hidden = !report || !report.ran;
  if (!report || !report.ran) return null;
  section.classList.toggle("failed", !report.ok);
  section.querySelector("h2").textContent = report.ok
    ? t("模拟运行通过（部署前的模拟运行，未留下任何数据）") : t("模拟运行未通过：不能部署");
  let failure = null;
  for (const path of report.paths) {
    body.appendChild(pathBlock(path));
    const step = path.steps.find((s) => !s.ok);
    if (!failure && step) failure = { path, step };
  }
  return failure;
}

export function failureText(failure) {
  const label = failure.step.step === "start" ? t("登记并启动") : failure.step.label || failure.step.step;
  return t("模拟运行未通过：路径“{path}”在“{step}”出错，未部署", { path: failure.path.name, step: label });
}
