// 统计分析 dashboard: ECharts charts from the figures the page embeds (#stats-data). Clicking a bar opens the
// list of cases behind that number; the freeze button posts to /api/stats/snapshots with the CSRF token.
import * as echarts from "echarts";
import { t } from "../lib/texts.js";

const data = JSON.parse(document.getElementById("stats-data")?.textContent || "{}");
const query = new URLSearchParams(data.query || {});

function drillTo(key, which = "numerator") {
  if (!key) return;
  const params = new URLSearchParams(query);
  params.set("kpi", key);
  params.set("which", which);
  window.location.href = `${data.drill}?${params.toString()}`;
}

function barChart(id, rows, { percent = false, horizontal = false, color = "#2f6db5" } = {}) {
  const el = document.getElementById(id);
  if (!el) return;
  const chart = echarts.init(el, null, { renderer: "svg" });
  const names = rows.map((r) => r.name);
  const values = rows.map((r) => (r.value === null || r.value === undefined ? null : r.value));
  const valueAxis = { type: "value", max: percent ? 100 : undefined, axisLabel: { formatter: percent ? "{value}%" : "{value}" } };
  const categoryAxis = { type: "category", data: names, axisLabel: { interval: 0, width: horizontal ? 140 : 70, overflow: "truncate" } };
  chart.setOption({
    animation: false, // drawn at once: what the screenshot and the reader see is the final chart
    grid: { left: horizontal ? 150 : 40, right: horizontal ? 56 : 30, top: 20, bottom: horizontal ? 20 : 50 },
    tooltip: { trigger: "item", formatter: (p) => `${p.name}：${p.value === null ? "—" : p.value + (percent ? "%" : "")}` },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? categoryAxis : valueAxis,
    series: [{
      type: "bar", data: values, itemStyle: { color }, barMaxWidth: 36,
      label: { show: true, position: horizontal ? "right" : "top", formatter: (p) => (p.value === null ? "—" : p.value + (percent ? "%" : "")) },
    }],
  });
  chart.on("click", (p) => drillTo(rows[p.dataIndex]?.key));
  window.addEventListener("resize", () => chart.resize());
  el.dataset.rendered = "1";
}

barChart("chart-channels", data.channels || []);
barChart("chart-rates", data.rates || [], { percent: true, horizontal: true, color: "#3a8f5c" });
barChart("chart-ranking", data.ranking || [], { percent: true, color: "#b5762f" });
barChart("chart-milestones", data.milestones || [], { percent: true, color: "#7a4fb5" });

const freeze = document.getElementById("freeze");
if (freeze) {
  freeze.addEventListener("click", async () => {
    const out = document.getElementById("freeze-result");
    const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
    const body = { period: freeze.dataset.period };
    if (freeze.dataset.unit) body.unit = freeze.dataset.unit;
    const response = await fetch("/api/stats/snapshots", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body), credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      out.textContent = t("已冻结 {period}", { period: answer.period });
      window.location.reload();
    } else {
      out.textContent = answer.error?.message || t("冻结失败（{status}）", { status: response.status });
    }
  });
}
