// Draws every chart of a page: a <div class="chart" data-chart="bars|series"> followed by its data in a
// non-executed <script type="application/json" class="chart-data"> block (allowed by the page's CSP).
// Apache ECharts comes from the npm registry (deploy/portal/package.json), served by the portal itself.
// Loaded only by a page that has a chart: the catalogue's first load does not carry its 1 MB.

const COLORS = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0e7490", "#be123c", "#4d7c0f"];

function barsOption(data) {
  const series = Object.entries(data.series).map(([name, values]) => ({ name, type: "bar", data: values }));
  return {
    color: COLORS,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 16, right: 16, top: 32, bottom: 16, containLabel: true },
    xAxis: { type: "category", data: data.names, axisLabel: { rotate: data.names.length > 8 ? 40 : 0 } },
    yAxis: { type: "value" },
    series,
  };
}

function linesOption(data) {
  const series = Object.entries(data.series).map(([name, values]) => ({ name, type: "line", data: values }));
  return { ...barsOption(data), series, yAxis: { type: "value", minInterval: 1 } };
}

function seriesOption(rows, title) {
  const length = Math.max(...rows.map((r) => r.length));
  return {
    color: COLORS,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 16, right: 16, top: 32, bottom: 16, containLabel: true },
    xAxis: { type: "category", data: Array.from({ length }, (_, i) => i) },
    yAxis: { type: "value", scale: true },
    series: rows.map((row, i) => ({ name: `${title}[${i}]`, type: "line", data: row, showSymbol: false })),
  };
}

const boxes = document.querySelectorAll("div.chart");
const echarts = boxes.length ? await import("/vendor/echarts.js") : null;

for (const box of boxes) {
  const block = box.nextElementSibling;
  if (!block || !block.classList.contains("chart-data")) continue;
  const data = JSON.parse(block.textContent);
  const chart = echarts.init(box, null, { renderer: "canvas" });
  const kind = box.dataset.chart;
  const option =
    kind === "series" ? seriesOption(data, box.dataset.title || "") : kind === "lines" ? linesOption(data) : barsOption(data);
  // No animation: the figures are read (and screenshot) at once, and a phone is spared the work.
  chart.setOption({ ...option, animation: false });
  box.dataset.drawn = "true";
  window.addEventListener("resize", () => chart.resize());
}
