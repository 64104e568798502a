// Deadline expressions of timer events: `workdays(n)`, `workdays(n, start)`, `days(n, start)`. The properties
// panel shows the rule, the number of days and the start as separate fields and writes the expression back.

function splitArgs(text) {
  const args = [];
  let depth = 0, quote = null, current = "";
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") { quote = ch; current += ch; continue; }
    if ("([{".includes(ch)) depth += 1;
    if (")]}".includes(ch)) depth -= 1;
    if (ch === "," && depth === 0) { args.push(current.trim()); current = ""; continue; }
    current += ch;
  }
  if (current.trim() || args.length) args.push(current.trim());
  return args;
}

// {rule: "workdays" | "days" | "other", n, start, text}
export function parseDeadline(text) {
  const source = (text || "").trim();
  const m = /^(workdays|days)\s*\(([\s\S]*)\)$/.exec(source);
  if (!m) return { rule: "other", n: "", start: "", text: source };
  let depth = 0;
  for (const ch of m[2]) {  // `days(1) + days(2)` is not one call: leave it as an expression
    if (ch === "(") depth += 1;
    if (ch === ")") depth -= 1;
    if (depth < 0) return { rule: "other", n: "", start: "", text: source };
  }
  const args = splitArgs(m[2]);
  return { rule: m[1], n: args[0] || "", start: args[1] || "", extra: args.slice(2), text: source };
}

export function composeDeadline({ rule, n, start, extra, text }) {
  if (rule !== "workdays" && rule !== "days") return text || "";
  const args = [String(n ?? "").trim()];
  if ((start || "").trim() || (extra && extra.length)) args.push((start || "").trim() || "None");
  for (const e of extra || []) args.push(e);
  return `${rule}(${args.join(", ")})`;
}
