// How a due instant reads on a page script: the same rule as engine/calendar/display.py on the server. A deadline
// ends at 24:00 Beijing time of its due day and is kept as 00:00 of the next day, so that instant names the day
// before it, at "24:00". Every page script that shows a due date goes through here; each page fills in its own
// translated day pattern ({y}, {m}, {d}, {mon}).

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
  "November", "December"];

const beijingParts = (when) => Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  hourCycle: "h23" }).formatToParts(when).map((p) => [p.type, p.value]));

// {y, m, d, mon, time} of the day a deadline ending at `iso` falls due, or null for no deadline.
export function dueParts(iso) {
  if (!iso) return null;
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return null;
  let p = beijingParts(when);
  let time = `${p.hour}:${p.minute}`;
  if (time === "00:00" && p.second === "00" && when.getUTCMilliseconds() === 0) {
    p = beijingParts(new Date(when.getTime() - 1));  // 00:00 is 24:00 of the day before
    time = "24:00";
  }
  const m = Number(p.month);
  return { y: Number(p.year), m, d: Number(p.day), mon: MONTHS[m - 1], time };
}

function fill(pattern, values) {
  return pattern.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

// The due day in `pattern` (e.g. "{y}年{m}月{d}日" or "{mon} {d}, {y}"); with `withTime`, its time after it.
export function dueText(iso, pattern, withTime = false) {
  const p = dueParts(iso);
  if (!p) return "—";
  const day = fill(pattern, p);
  return withTime ? `${day} ${p.time}` : day;
}
