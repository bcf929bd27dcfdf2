// Overview: every vault of the daemon (files, pending, errors, each of its devices), then
// the chosen vault's figures and each paired device, refreshed when an event says
// something changed (and every 10 s, for "last seen", the byte counts and the other vaults).

import { bytes, el, shortId, table, when } from "./format.js";

let section = null;
let ctx = null;
let timer = null;
let pending = null;

function figure(label, value, id) {
  return el("div", { class: "figure" }, el("dt", { text: label }), el("dd", { id: `fig-${id}`, text: String(value) }));
}

function deviceList(devices) {
  if (!devices.length) return "none paired";
  return el("ul", { class: "devices" }, ...devices.map((d) => el("li", {},
    el("span", { class: `dot ${d.connected ? "on" : "off"}`, "aria-hidden": "true" }), " ",
    el("code", { title: d.id, text: shortId(d.id) }),
    d.connected ? " connected" : ` last seen ${when(d.last_seen)}`)));
}

function vaultsTable(vaults) {
  const num = (n) => el("td", { class: "num", text: n === null || n === undefined ? "–" : String(n) });
  const rows = vaults.map((v) => el("tr", { "data-vault": v.id, class: v.id === ctx.vault() ? "chosen" : null },
    el("td", {}, el("a", { href: ctx.pageHash("overview", {}, v.id), title: v.path, text: v.name,
      "aria-current": v.id === ctx.vault() ? "true" : null })),
    el("td", { class: `state state-${v.state}`, title: v.reason ?? "", text: v.reason ? `${v.state}: ${v.reason}` : v.state }),
    num(v.files), num(v.pending), num(v.errors), num(v.not_synced), el("td", {}, deviceList(v.devices))));
  return table(`${vaults.length} vault(s) served by this daemon`,
    ["Vault", "State", "#Files", "#Pending", "#Errors", "#Not synced", "Devices"], rows);
}

function render(vaults, status) {
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
  const name = vaults.find((v) => v.id === ctx.vault())?.name ?? status.vault;
  const importing = status.daemon.first_import;  // a new vault's first import, in a process of its own
  const progress = importing && el("p", { id: "first-import", role: "status", text: importing.files_total
    ? `First import: ${importing.files_done} of ${importing.files_total} files. History and sync start once it has ended.`
    : "First import: looking at the folder. History and sync start once it has ended." });
  const body = el("div", { class: "page-body", "data-ready": true },
    el("h3", { text: "Vaults" }), vaultsTable(vaults),
    el("h3", { id: "chosen-vault", text: `Vault ${name}` }),
    el("p", { class: "muted" }, "This device ", el("code", { title: status.device_id, text: shortId(status.device_id) }),
      ` · vault ${status.vault_id.slice(0, 8)} · daemon pid ${status.daemon.pid ?? "–"}`),
    ...(progress ? [progress] : []), figures, el("h3", { text: "Devices" }), devices);
  section.querySelector(".page-body")?.remove();
  section.append(body);
}

async function refresh() {
  const vaults = await ctx.apiRoot("GET", "/vaults");
  ctx.setVaults(vaults);
  let status;
  try {
    status = await ctx.api("GET", "/status");
  } catch (error) {  // this vault is not running: the others are still listed
    section.querySelector(".page-body")?.remove();
    section.append(el("div", { class: "page-body", "data-ready": true }, el("h3", { text: "Vaults" }), vaultsTable(vaults)));
    throw error;
  }
  render(vaults, status);
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
