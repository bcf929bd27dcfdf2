// Activity: what the daemon did, newest first, as it happens (the event stream).

import { el, shortId, time } from "./format.js";

const SHOWN = 300;  // rows kept on the page
const LABELS = {
  local_change: "changed here", remote_change: "received", merge: "merged", peer_connected: "connected",
  peer_lost: "disconnected", held_deletions: "deletions held", error: "error", paused: "paused",
  resumed: "resumed", live_update: "live edit",
};

let list = null;
let filter = null;

function describe(event) {
  const parts = [];
  if (event.device) parts.push(el("code", { title: event.device, text: shortId(event.device) }), " ");
  if (event.paths) {
    const more = event.paths.length > 5 ? ` and ${event.paths.length - 5} more` : "";
    parts.push(event.paths.slice(0, 5).join(", ") + more);
  }
  if (event.path) parts.push(event.path);
  if (event.count !== undefined) parts.push(`${event.count} file(s): ${event.reason ?? ""}`);
  if (event.reason && event.count === undefined) parts.push(` (${event.reason})`);
  if (event.message) parts.push(event.message);
  return parts;
}

function row(event) {
  return el("li", { "data-kind": event.kind, hidden: filter.value && filter.value !== event.kind },
    el("span", { class: "muted", text: time(event.at) }),
    el("span", { class: `kind kind-${event.kind}`, text: LABELS[event.kind] ?? event.kind }),
    el("span", {}, ...describe(event)));
}

function add(event) {
  list.prepend(row(event));
  while (list.children.length > SHOWN) list.lastElementChild.remove();
  list.dataset.count = String(list.children.length);
}

export default {
  id: "activity",
  title: "Activity",
  async enter(section, ctx) {
    filter = el("select", { id: "activity-kind", onchange: () => {
      for (const item of list.children) item.hidden = Boolean(filter.value) && item.dataset.kind !== filter.value;
    } }, el("option", { value: "", text: "everything" }),
    ...Object.entries(LABELS).map(([kind, label]) => el("option", { value: kind, text: label })));
    list = el("ol", { id: "activity-log", class: "log", "aria-live": "polite", "aria-label": "Events, newest first" });
    section.append(el("div", { class: "page-body", "data-ready": true },
      el("div", { class: "row" }, el("label", { for: "activity-kind" }, "Show", filter)),
      list));
    for (const event of ctx.recent()) add(event);
    if (!list.children.length) list.append(el("li", { class: "empty" }, el("span", { text: "Nothing yet: events appear here as they happen." })));
  },
  onEvent(event) {
    list.querySelector(".empty")?.remove();
    add(event);
  },
};
