// The "连心" group of the properties panel: what Lianxin reads from a diagram, edited without typing XML.
//  - service task: the handler (from the registered handlers) with its parameters, and the result variable
//  - timer event: the deadline rule (working days / calendar days), the number of days and the start
//  - user task: the form (from processes/forms) and the handling unit
//  - lane: the role whose users do the lane's tasks
//  - flow leaving a gateway: its condition (condition-entry.jsx)
// Every change goes through `modeling`, so undo/redo work and the XML keeps everything else untouched.
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

import { conditionEntries } from "./condition-entry.jsx";
import { composeDeadline, parseDeadline } from "./timer-expression.js";
import { t } from "./texts.js";

const SPIFF = "spiffworkflow";
// What the server offers (handlers, forms, roles), set once by the provider from the modeler's config.
let CATALOG = { handlers: [], forms: [], roles: [] };

// ---------------------------------------------------------------- extension element helpers

function extensionValues(bo, type) {
  const ext = bo.get("extensionElements");
  return ext ? (ext.get("values") || []).filter((v) => is(v, type)) : [];
}

function ensureExtensionElements(element, bo, bpmnFactory, modeling) {
  let ext = bo.get("extensionElements");
  if (!ext) {
    ext = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function ensureExtension(element, type, attrs, services) {
  const { bpmnFactory, modeling } = services;
  const bo = getBusinessObject(element);
  const [found] = extensionValues(bo, type);
  if (found) return found;
  const ext = ensureExtensionElements(element, bo, bpmnFactory, modeling);
  const created = bpmnFactory.create(type, attrs);
  created.$parent = ext;
  modeling.updateModdleProperties(element, ext, { values: [...(ext.get("values") || []), created] });
  return created;
}

function getProperty(bo, name) {
  const [props] = extensionValues(bo, `${SPIFF}:Properties`);
  const prop = props && (props.get("property") || []).find((p) => p.get("name") === name);
  return prop ? prop.get("value") || "" : "";
}

function setProperty(element, name, value, services) {
  const { bpmnFactory, modeling } = services;
  const props = ensureExtension(element, `${SPIFF}:Properties`, { property: [] }, services);
  const list = props.get("property") || [];
  const existing = list.find((p) => p.get("name") === name);
  if (existing && !value) {
    modeling.updateModdleProperties(element, props, { property: list.filter((p) => p !== existing) });
  } else if (existing) {
    modeling.updateModdleProperties(element, existing, { value });
  } else if (value) {
    const created = bpmnFactory.create(`${SPIFF}:Property`, { name, value });
    created.$parent = props;
    modeling.updateModdleProperties(element, props, { property: [...list, created] });
  }
}

function useServices() {
  return {
    bpmnFactory: useService("bpmnFactory"),
    modeling: useService("modeling"),
    debounce: useService("debounceInput"),
    catalog: CATALOG,
  };
}

// ---------------------------------------------------------------- service task

function operatorOf(bo) {
  return extensionValues(bo, `${SPIFF}:ServiceTaskOperator`)[0];
}

function HandlerEntry({ element, id }) {
  const services = useServices();
  const { catalog, modeling } = services;
  const bo = getBusinessObject(element);
  const getValue = () => (operatorOf(bo) ? operatorOf(bo).get("id") || "" : "");
  const setValue = (value) => {
    const op = ensureExtension(element, `${SPIFF}:ServiceTaskOperator`, { id: value }, services);
    modeling.updateModdleProperties(element, op, { id: value });
    const handler = catalog.handlers.find((h) => h.name === value);
    if (handler) {
      for (const p of handler.parameters) ensureParameter(element, op, p, services);
    }
  };
  const getOptions = () => {
    const current = getValue();
    const options = [{ value: "", label: t("（请选择处理程序）") }];
    for (const h of catalog.handlers) {
      options.push({ value: h.name, label: h.description ? `${h.name}：${h.description.split("\n")[0].slice(0, 40)}` : h.name });
    }
    if (current && !catalog.handlers.some((h) => h.name === current)) {
      options.push({ value: current, label: t("{name}（未注册）", { name: current }) });
    }
    return options;
  };
  return <SelectEntry id={id} element={element} label={t("处理程序")} getValue={getValue} setValue={setValue}
    getOptions={getOptions} description={t("服务任务调用的 Python 处理程序（services/ 中注册）")} />;
}

function parametersOf(op) {
  const params = op && op.get("parameters");
  return params ? params.get("parameter") || [] : [];
}

function ensureParameter(element, op, spec, services) {
  const { bpmnFactory, modeling } = services;
  let params = op.get("parameters");
  if (!params) {
    params = bpmnFactory.create(`${SPIFF}:Parameters`, { parameter: [] });
    params.$parent = op;
    modeling.updateModdleProperties(element, op, { parameters: params });
  }
  const list = params.get("parameter") || [];
  const found = list.find((p) => p.get("id") === spec.name);
  if (found) return found;
  const created = bpmnFactory.create(`${SPIFF}:Parameter`, { id: spec.name, type: "any", value: "" });
  created.$parent = params;
  modeling.updateModdleProperties(element, params, { parameter: [...list, created] });
  return created;
}

function ParameterEntry({ element, id, parameter }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => {
    const p = parametersOf(operatorOf(bo)).find((x) => x.get("id") === parameter.name);
    return p ? p.get("value") || "" : "";
  };
  const setValue = (value) => {
    const op = operatorOf(bo);
    if (!op) return;
    const p = ensureParameter(element, op, parameter, services);
    services.modeling.updateModdleProperties(element, p, { value: value || "" });
  };
  const required = parameter.required ? t("，必填") : "";
  return <TextFieldEntry id={id} element={element} label={t("参数 {name}（{type}{required}）", { name: parameter.name, type: parameter.type, required })}
    getValue={getValue} setValue={setValue} debounce={services.debounce}
    description={t("Python 表达式，按案件数据计算；文字要加引号，如 '签收办理'")} />;
}

function ResultVariableEntry({ element, id }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => (operatorOf(bo) ? operatorOf(bo).get("resultVariable") || "" : "");
  const setValue = (value) => {
    const op = operatorOf(bo);
    if (op) services.modeling.updateModdleProperties(element, op, { resultVariable: value || undefined });
  };
  return <TextFieldEntry id={id} element={element} label={t("结果变量")} getValue={getValue} setValue={setValue}
    debounce={services.debounce} description={t("处理程序的结果存入的案件数据名")} />;
}

function serviceTaskEntries(element, catalog) {
  const bo = getBusinessObject(element);
  const entries = [{ id: "lianxin-handler", component: HandlerEntry, isEdited: isSelectEntryEdited }];
  const op = operatorOf(bo);
  if (!op) return entries;
  entries.push({ id: "lianxin-result", component: ResultVariableEntry, isEdited: isTextFieldEntryEdited });
  const handler = catalog.handlers.find((h) => h.name === op.get("id"));
  const declared = handler ? handler.parameters : [];
  const names = new Set(declared.map((p) => p.name));
  const extra = parametersOf(op).filter((p) => !names.has(p.get("id")))
    .map((p) => ({ name: p.get("id"), type: p.get("type") || "any", required: false }));
  for (const parameter of [...declared, ...extra]) {
    entries.push({ id: `lianxin-param-${parameter.name}`, component: ParameterEntry, parameter,
      isEdited: isTextFieldEntryEdited });
  }
  return entries;
}

// ---------------------------------------------------------------- timers

function timerDefinition(bo) {
  return (bo.get("eventDefinitions") || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
}

function timerExpression(definition) {
  for (const key of ["timeDate", "timeDuration", "timeCycle"]) {
    const expr = definition.get(key);
    if (expr) return { key, expr };
  }
  return { key: "timeDate", expr: null };
}

function writeTimer(element, definition, text, services) {
  const { bpmnFactory, modeling } = services;
  const { key, expr } = timerExpression(definition);
  if (expr) {
    modeling.updateModdleProperties(element, expr, { body: text });
  } else {
    const created = bpmnFactory.create("bpmn:FormalExpression", { body: text });
    created.$parent = definition;
    modeling.updateModdleProperties(element, definition, { [key]: created });
  }
}

function TimerField({ element, id, field, label, description }) {
  const services = useServices();
  const definition = timerDefinition(getBusinessObject(element));
  const read = () => {
    const { expr } = timerExpression(definition);
    return parseDeadline(expr ? expr.get("body") : "");
  };
  const getValue = () => {
    const parsed = read();
    if (field === "text") return parsed.text;
    return parsed[field] || "";
  };
  const setValue = (value) => {
    const parsed = read();
    const text = field === "text" ? (value || "") : composeDeadline({ ...parsed, [field]: value || "" });
    writeTimer(element, definition, text, services);
  };
  if (field === "rule") {
    const getOptions = () => [
      { value: "workdays", label: t("工作日（workdays，节假日不计）") },
      { value: "days", label: t("自然日（days，到期日逢节假日顺延）") },
      { value: "other", label: t("其他表达式") },
    ];
    const setRule = (value) => {
      const parsed = read();
      if (value === "other") return;
      const n = parsed.rule === "other" ? "" : parsed.n;
      writeTimer(element, definition, composeDeadline({ ...parsed, rule: value, n: n || "5" }), services);
    };
    return <SelectEntry id={id} element={element} label={label} getValue={getValue} setValue={setRule}
      getOptions={getOptions} description={description} />;
  }
  return <TextFieldEntry id={id} element={element} label={label} getValue={getValue} setValue={setValue}
    debounce={services.debounce} description={description} />;
}

function TimerKindEntry({ element, id }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => bo.get("lianxin:kind") || "";
  const setValue = (value) => services.modeling.updateModdleProperties(element, bo, { "lianxin:kind": value || undefined });
  const getOptions = () => [
    { value: "", label: t("期限（到期后催办、督办）") },
    { value: "reminder", label: t("临期提醒（只提醒，不算期限）") },
  ];
  return <SelectEntry id={id} element={element} label={t("计时器用途")} getValue={getValue} setValue={setValue}
    getOptions={getOptions} description={t("临期提醒须是挂在环节上的不中断计时器")} />;
}

function timerEntries(element) {
  const definition = timerDefinition(getBusinessObject(element));
  const { expr } = timerExpression(definition);
  const parsed = parseDeadline(expr ? expr.get("body") : "");
  const entries = [{ id: "lianxin-timer-rule", component: TimerField, field: "rule", label: t("期限规则"),
    description: t("按工作日还是自然日计算期限"), isEdited: isSelectEntryEdited }];
  if (parsed.rule !== "other") {
    entries.push({ id: "lianxin-timer-days", component: TimerField, field: "n", label: t("期限天数"),
      description: t("整数，如 5；也可引用设置，如 limits[\"sign_workdays\"]"), isEdited: isTextFieldEntryEdited });
    entries.push({ id: "lianxin-timer-start", component: TimerField, field: "start", label: t("起算时间"),
      description: t("留空表示从到达此处时起算；如 dispatch[\"at\"]"), isEdited: isTextFieldEntryEdited });
  }
  entries.push({ id: "lianxin-timer-text", component: TimerField, field: "text", label: t("计时器表达式"),
    description: t("完整表达式，如 workdays(5) 或 days(60, accepted_at)"), isEdited: isTextFieldEntryEdited });
  if (is(element, "bpmn:BoundaryEvent")) {
    entries.push({ id: "lianxin-timer-kind", component: TimerKindEntry, isEdited: isSelectEntryEdited });
  }
  return entries;
}

// ---------------------------------------------------------------- user task and lane

function PropertyEntry({ element, id, name, label, description, options }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => getProperty(bo, name);
  const setValue = (value) => setProperty(element, name, value, services);
  if (options) {
    const getOptions = () => {
      const list = [{ value: "", label: t("（无）") }, ...options(services.catalog).map((f) => ({ value: f, label: f }))];
      const current = getValue();
      if (current && !list.some((o) => o.value === current)) list.push({ value: current, label: t("{name}（未找到）", { name: current }) });
      return list;
    };
    return <SelectEntry id={id} element={element} label={label} getValue={getValue} setValue={setValue}
      getOptions={getOptions} description={description} />;
  }
  return <TextFieldEntry id={id} element={element} label={label} getValue={getValue} setValue={setValue}
    debounce={services.debounce} description={description} />;
}

function RoleEntry({ element, id }) {
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => bo.get("lianxin:role") || "";
  const setValue = (value) => services.modeling.updateModdleProperties(element, bo, { "lianxin:role": value || undefined });
  const getOptions = () => {
    const list = [{ value: "", label: t("（请选择角色）") },
      ...services.catalog.roles.map((r) => ({ value: r.name, label: `${r.label}（${r.name}）` }))];
    const current = getValue();
    if (current && !list.some((o) => o.value === current)) list.push({ value: current, label: current });
    return list;
  };
  return <SelectEntry id={id} element={element} label={t("办理角色")} getValue={getValue} setValue={setValue}
    getOptions={getOptions} description={t("泳道中的任务由具有此角色的用户办理")} />;
}

// ---------------------------------------------------------------- the provider

export default function LianxinPropertiesProvider(propertiesPanel, config) {
  CATALOG = (config && config.lianxinCatalog) || CATALOG;
  const catalog = CATALOG;

  this.getGroups = (element) => (groups) => {
    const entries = [];
    const bo = getBusinessObject(element);
    if (is(element, "bpmn:ServiceTask")) entries.push(...serviceTaskEntries(element, catalog));
    if (is(element, "bpmn:Event") && timerDefinition(bo)) entries.push(...timerEntries(element));
    if (is(element, "bpmn:UserTask")) {
      entries.push({ id: "lianxin-form", component: PropertyEntry, name: "form", label: t("表单"),
        options: (c) => c.forms, description: t("办理人填写的表单（processes/forms）"), isEdited: isSelectEntryEdited });
      entries.push({ id: "lianxin-unit", component: PropertyEntry, name: "unit", label: t("承办单位"),
        description: t("案件数据中的单位，如 responsible_unit；固定单位加引号"), isEdited: isTextFieldEntryEdited });
    }
    if (is(element, "bpmn:Lane")) entries.push({ id: "lianxin-role", component: RoleEntry, isEdited: isSelectEntryEdited });
    entries.push(...conditionEntries(element));
    if (entries.length) {
      const at = Math.min(1, groups.length);
      groups.splice(at, 0, { id: "lianxin", label: t("连心设置"), entries });
    }
    return groups;
  };
  propertiesPanel.registerProvider(500, this);
}

LianxinPropertiesProvider.$inject = ["propertiesPanel", "config"];

export const LianxinPropertiesModule = {
  __init__: ["lianxinPropertiesProvider"],
  lianxinPropertiesProvider: ["type", LianxinPropertiesProvider],
};
