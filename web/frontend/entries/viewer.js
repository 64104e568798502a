// The read-only diagram viewer (case page, audit replay): exposes window.LianxinViewer.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";

window.LianxinViewer = NavigatedViewer;
