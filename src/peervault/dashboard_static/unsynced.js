// Files not synced: each file this device cannot sync, and why (from /files).

import { bytes, el, table } from "./format.js";

let section = null;
let ctx = null;
let pending = null;

async function refresh() {
  const [unsynced, held] = await Promise.all([
    ctx.api("GET", "/files", { state: "not_synced" }),
    ctx.api("GET", "/files", { state: "held" }),
  ]);
  const rows = [...unsynced.files, ...held.files].map((f) => el("tr", {},
    el("td", {}, el("code", { text: f.path })),
    el("td", { class: "num", text: bytes(f.size) }),
    el("td", { text: f.reason ?? f.state })));
  const body = el("div", { class: "page-body", "data-ready": true },
    rows.length
      ? table(`${rows.length} file(s) not synced`, ["File", "#Size", "Why"], rows)
      : el("p", { class: "notice", text: "Every file in the vault is synced." }),
    el("p", { class: "muted", text: `${unsynced.ignored} file(s) and folders are ignored by the vault's ignore rules.` }));
  section.querySelector(".page-body")?.remove();
  section.append(body);
}

export default {
  id: "unsynced",
  title: "Not synced",
  async enter(where, context) {
    section = where;
    ctx = context;
    await refresh();
  },
  leave() {
    clearTimeout(pending);
  },
  refresh() {
    refresh().catch(ctx.report);
  },
  onEvent(event) {
    if (!["local_change", "remote_change", "error", "held_deletions"].includes(event.kind)) return;
    clearTimeout(pending);
    pending = setTimeout(() => refresh().catch(ctx.report), 500);
  },
};
