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
  const mark = (id, cls) => {
    if (registry.get(id)) {
      canvas.addMarker(id, cls);
    }
  };
  state.completed.forEach((id) => mark(id, "lx-completed"));
  state.active.forEach((id) => mark(id, "lx-active"));
  Object.entries(state.alerts || {}).forEach(([id, alert]) => mark(id, `lx-alert-${alert}`));
  canvas.zoom("fit-viewport", "auto");
  container.dataset.ready = "1";
  container.dataset.active = state.active.join(" ");
  return viewer;
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
