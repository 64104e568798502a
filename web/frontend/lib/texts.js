// Texts a page script shows, in the page's language. The page renders them through gettext in
// <script type="application/json" id="lx-texts"> (Chinese text -> text shown); `{name}` marks a value filled in.
// A text the page did not send is shown in Chinese, which is the default language anyway.
let table = null;

export function t(zh, values = {}) {
  if (table === null) {
    const el = document.getElementById("lx-texts");
    table = el ? JSON.parse(el.textContent) : {};
  }
  return (table[zh] || zh).replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

export function isEnglish() {
  return (document.documentElement.lang || "").startsWith("en");
}

// A moment the way the server's `cndatetime` filter prints it: 2026年3月2日 09:00 (Beijing time); Mar 2, 2026 09:00.
export function cnDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const part = {};
  const fmt = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", year: "numeric", month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  for (const p of fmt.formatToParts(d)) part[p.type] = p.value;
  const time = `${part.hour === "24" ? "00" : part.hour}:${part.minute}`;
  if (isEnglish()) {
    const month = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Shanghai", month: "short" }).format(d);
    return `${month} ${part.day}, ${part.year} ${time}`;
  }
  return `${part.year}年${part.month}月${part.day}日 ${time}`;
}
