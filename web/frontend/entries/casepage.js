// The case page's diagram: the deployed BPMN of the case's version in a read-only viewer, with the elements the
// case is at now (and those already passed, and overdue tasks) marked on the canvas.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import "./casepage.css";

async function showCaseDiagram(container) {
  const response = await fetch(container.dataset.api, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  const state = await response.json();
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(state.xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  // A live sub-process is a scope around the position, outlined only; tasks and events are filled.
  const mark = (id, cls) => {
    const element = registry.get(id);
    if (element) {
      const scope = element.type === "bpmn:SubProcess" && cls === "lx-active";
      canvas.addMarker(id, scope ? "lx-active-scope" : cls);
    }
  };
  state.completed.forEach((id) => mark(id, "lx-completed"));
  state.active.forEach((id) => mark(id, "lx-active"));
  Object.entries(state.alerts || {}).forEach(([id, alert]) => mark(id, `lx-alert-${alert}`));
  focusOn(canvas, (state.tasks || []).map((id) => registry.get(id)).find(Boolean));
  container.dataset.ready = "1";
  container.dataset.active = state.active.join(" ");
  return viewer;
}

// Whole diagram when the case has no open task; else the open task centred at a readable scale.
function focusOn(canvas, element) {
  canvas.zoom("fit-viewport", "auto");
  if (!element || canvas.zoom() >= 0.8) {
    return;
  }
  canvas.zoom(0.85);
  const box = canvas.viewbox();
  canvas.viewbox({
    x: element.x + element.width / 2 - box.width / 2,
    y: element.y + element.height / 2 - box.height / 2,
    width: box.width,
    height: box.height,
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const container = document.getElementById("case-diagram");
  if (!container) {
    return;
  }
  showCaseDiagram(container).catch((err) => {
    container.dataset.ready = "error";
    const note = document.createElement("p");
    note.className = "error";
    note.textContent = `${container.dataset.error || "diagram failed"}: ${err.message}`;
    container.replaceChildren(note);
  });
});
