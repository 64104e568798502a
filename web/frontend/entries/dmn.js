// DMN tables (routing.dmn, settings.dmn) edited with dmn-js: exposes window.LianxinDmnModeler for the designer page.
import DmnModeler from "dmn-js/lib/Modeler";
import "dmn-js/dist/assets/diagram-js.css";
import "dmn-js/dist/assets/dmn-js-shared.css";
import "dmn-js/dist/assets/dmn-js-drd.css";
import "dmn-js/dist/assets/dmn-js-decision-table.css";
import "dmn-js/dist/assets/dmn-js-decision-table-controls.css";
import "dmn-js/dist/assets/dmn-js-literal-expression.css";
import "dmn-js/dist/assets/dmn-font/css/dmn-embedded.css";

import { TranslateZhModule } from "../lib/translate-zh.js";
import { isEnglish } from "../lib/texts.js";

export function createDmnModeler(container) {
  // the editors' own texts are English; in Chinese pages they are translated
  const zh = { additionalModules: isEnglish() ? [] : [TranslateZhModule] };
  return new DmnModeler({ container, common: zh, drd: zh, decisionTable: zh, literalExpression: zh, boxedExpression: zh });
}

window.LianxinDmnModeler = { create: createDmnModeler };
