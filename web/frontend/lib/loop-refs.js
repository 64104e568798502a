// Multi-instance tasks name their input and output collections by process variable
// (<bpmn:loopDataInputRef>co_units_to_ask</bpmn:loopDataInputRef>), which is how SpiffWorkflow reads them.
// BPMN types these as references to data inputs or data objects, so bpmn-moddle finds no element with that id,
// warns "unresolved reference" and leaves the property empty: saving would silently drop the collection and the
// engine would refuse the task. Each such reference gets a stand-in element carrying the variable name as its
// id, which is all the XML writer puts back.
const LOOP_REFS = {
  "bpmn:loopDataInputRef": "bpmn:DataInput",
  "bpmn:loopDataOutputRef": "bpmn:DataOutput",
};

export function keepLoopVariableRefs(modeler, warnings) {
  const moddle = modeler.get("moddle");
  const remaining = [];
  for (const w of warnings || []) {
    const type = LOOP_REFS[w.property];
    if (type && w.element && typeof w.value === "string" && /unresolved reference/.test(w.message)) {
      w.element.set(w.property, moddle.create(type, { id: w.value }));
    } else {
      remaining.push(w);
    }
  }
  return remaining;
}
