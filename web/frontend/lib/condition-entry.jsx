// The condition of a flow leaving an exclusive or inclusive gateway, in the "连心" group: a Python expression.
// Files from other modelers bring JUEL (${...}) or FEEL conditions, which deployment refuses with a suggested
// Python translation; this field is where the designer writes it. Changes go through `modeling` (undo works).
import { TextFieldEntry, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

import { t } from "./texts.js";

function ConditionEntry({ element, id }) {
  const bpmnFactory = useService("bpmnFactory");
  const modeling = useService("modeling");
  const debounce = useService("debounceInput");
  const bo = getBusinessObject(element);
  const getValue = () => (bo.get("conditionExpression") ? bo.get("conditionExpression").get("body") || "" : "");
  const setValue = (value) => {
    const text = (value || "").trim();
    if (!text) {
      modeling.updateProperties(element, { conditionExpression: undefined });
      return;
    }
    const expression = bpmnFactory.create("bpmn:FormalExpression", { body: text });
    modeling.updateProperties(element, { conditionExpression: expression });
  };
  return <TextFieldEntry id={id} element={element} label={t("网关条件")} getValue={getValue} setValue={setValue}
    debounce={debounce} description={t("Python 表达式，如 accepted == \"yes\"；默认顺序流不写条件")} />;
}

export function conditionEntries(element) {
  const source = element.source;
  const fromGateway = source && (is(source, "bpmn:ExclusiveGateway") || is(source, "bpmn:InclusiveGateway"));
  if (!is(element, "bpmn:SequenceFlow") || !fromGateway) return [];
  return [{ id: "lianxin-condition", component: ConditionEntry, isEdited: isTextFieldEntryEdited }];
}
