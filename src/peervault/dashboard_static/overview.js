// Overview: the vault's figures and each paired device, refreshed when an event says
// something changed (and every 10 s, for "last seen" and the byte counts).

import { bytes, el, shortId, table, when } from "./format.js";

let section = null;
let ctx = null;
let timer = null;
let pending = null;

function figure(label, value, id) {
  return el("div", { class: "figure" }, el("dt", { text: label }), el("dd", { id: `fig-${id}`, text: String(value) }));
}

function render(status) {
  const files = status.files;
  const metrics = status.metrics ?? {};
  const figures = el("dl", { class: "figures" },
    figure("Files tracked", files.tracked, "tracked"),
    figure("Pending changes", status.pending_changes, "pending"),
    figure("Not synced", status.not_synced.length, "not-synced"),
    figure("Held deletions", status.held_deletions.count, "held"),
    figure("Deleted (restorable)", files.deleted, "deleted"),
    figure("Sync errors", metrics.sync_error_count ?? 0, "errors"),
    figure("Sync", status.daemon.paused ? "paused" : "on", "paused"),
    figure("Daemon memory", metrics.memory_mb ? `${metrics.memory_mb} MB` : "–", "memory"));
  const peers = status.peers.map((p) => el("tr", {},
    el("td", {}, el("code", { title: p.id, text: shortId(p.id) })),
    el("td", {}, el("span", { class: `dot ${p.connected ? "on" : "off"}`, "aria-hidden": "true" }),
      p.connected ? ` connected${p.state && p.state !== "live" ? ` (${p.state})` : ""}` : ` ${p.state ?? "not connected"}`),
    el("td", { text: when(p.last_seen) }),
    el("td", {}, ...(p.addrs.length ? p.addrs.map((a) => el("code", { class: "addr", text: a })) : ["–"])),
    el("td", { class: "num", text: bytes(p.bytes_sent) }),
    el("td", { class: "num", text: bytes(p.bytes_received) })));
  const devices = peers.length
    ? table("Each paired device: bytes since this daemon started", ["Device", "Connection", "Last seen", "Addresses", "#Sent", "#Received"], peers)
    : el("p", { text: "No paired device yet: pair one with `peervault invite` and `peervault join`." });
  const body = el("div", { class: "page-body", "data-ready": true },
    el("p", { class: "muted" }, "This device ", el("code", { title: status.device_id, text: shortId(status.device_id) }),
      ` · vault ${status.vault_id.slice(0, 8)} · daemon pid ${status.daemon.pid ?? "–"}`),
    figures, el("h3", { text: "Devices" }), devices);
  section.querySelector(".page-body")?.remove();
  section.append(body);
}

async function refresh() {
  render(await ctx.api("GET", "/status"));
}

export default {
  id: "overview",
  title: "Overview",
  async enter(where, context) {
    section = where;
    ctx = context;
    timer = setInterval(() => refresh().catch(ctx.report), 10000);
    await refresh();
  },
  leave() {
    clearInterval(timer);
    clearTimeout(pending);
  },
  refresh() {
    refresh().catch(ctx.report);
  },
  onEvent(event) {
    if (event.kind === "live_update") return;
    clearTimeout(pending);  // a burst of events is one refresh
    pending = setTimeout(() => refresh().catch(ctx.report), 300);
  },
};
