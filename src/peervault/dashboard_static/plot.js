// The last hour: how long changes received took to reach the disk here (median and max
// per 10 s) and the bytes each way, drawn with uPlot (vendored: uPlot-VERSION.txt).

import { bytes, el } from "./format.js";

let ctx = null;
let charts = [];
let timer = null;
let pending = null;

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// `least`: the y axis's top is never below it (no "0.2 B" ticks on a quiet hour).
function options(title, width, series, yLabel, yFormat, least) {
  const axis = { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line") } };
  return {
    title, width, height: 240,
    series: [{}, ...series],
    axes: [axis, { ...axis, label: yLabel, size: 70, values: (u, values) => values.map(yFormat) }],
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(least, (max ?? 0) * 1.15)] } },
    legend: { live: true },
  };
}

function draw(body, data) {
  for (const chart of charts) chart.destroy();
  const width = Math.max(320, body.clientWidth - 20);
  const ok = css("--ok");
  const accent = css("--accent");
  const bad = css("--bad");
  const latency = new window.uPlot(options("Sync latency of changes received (ms)", width, [
    { label: "median", stroke: accent, width: 2, points: { show: true, size: 5 }, spanGaps: false },
    { label: "max", stroke: bad, width: 1, points: { show: true, size: 4 }, spanGaps: false },
  ], "ms", (v) => `${v} ms`, 1), [data.t, data.latency_median_ms, data.latency_max_ms], body.querySelector("#chart-latency"));
  const traffic = new window.uPlot(options("Traffic per 10 s", width, [
    { label: "sent", stroke: accent, width: 2, fill: `${accent}22` },
    { label: "received", stroke: ok, width: 2, fill: `${ok}22` },
  ], "bytes", (v) => bytes(v), 1024), [data.t, data.bytes_sent, data.bytes_received], body.querySelector("#chart-traffic"));
  charts = [latency, traffic];
}

async function refresh(body) {
  const data = await ctx.api("GET", "/samples");
  const received = data.latency_max_ms.filter((v) => v !== null).length;
  const total = (key) => data[key].reduce((a, b) => a + b, 0);
  body.querySelector("#plot-summary").textContent =
    `Last hour: changes received in ${received} of ${data.t.length} ten-second steps; ` +
    `${bytes(total("bytes_sent"))} sent, ${bytes(total("bytes_received"))} received.`;
  draw(body, data);
  body.dataset.ready = "";
}

export default {
  id: "plot",
  title: "Latency & traffic",
  async enter(section, context) {
    ctx = context;
    const body = el("div", { class: "page-body" },
      el("p", { id: "plot-summary", class: "muted" }),
      el("figure", { class: "chart", id: "chart-latency", "aria-label": "Sync latency over the last hour" }),
      el("figure", { class: "chart", id: "chart-traffic", "aria-label": "Bytes sent and received over the last hour" }),
      el("p", { class: "muted", text: "Latency: from an update's arrival to its files written here. " +
        "Traffic counts every byte on the connections, heartbeats included." }));
    section.append(body);
    await refresh(body);
    timer = setInterval(() => refresh(body).catch(ctx.report), 10000);
    ctx.body = body;
  },
  leave() {
    clearInterval(timer);
    clearTimeout(pending);
    for (const chart of charts) chart.destroy();
    charts = [];
  },
  onEvent(event) {
    if (event.kind !== "remote_change" && event.kind !== "local_change") return;
    clearTimeout(pending);
    pending = setTimeout(() => refresh(ctx.body).catch(ctx.report), 1500);
  },
};
