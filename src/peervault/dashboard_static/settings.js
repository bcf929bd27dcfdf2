// Settings that are safe to change while the daemon runs: pause, the debounce (applied at
// once) and the profile (saved; each of its settings the daemon can change live applies at
// once, the rest at the next start, and the page names those).

import { el } from "./format.js";

let ctx = null;
let body = null;

function field(id, label, control, help) {
  return el("div", { class: "setting" }, el("label", { for: id }, label, control), el("p", { class: "muted", text: help }));
}

// `notice`: what the last action did, shown under the form.
async function render(notice) {
  const s = await ctx.api("GET", "/settings");
  const status = el("p", { id: "settings-result", role: "status", "aria-live": "polite", class: notice ? "notice" : null,
    text: notice });
  const pause = el("button", { id: "pause-toggle", type: "button", class: s.paused ? null : "secondary",
    text: s.paused ? "Resume syncing" : "Pause syncing", "aria-pressed": String(s.paused) });
  pause.addEventListener("click", async () => {
    await ctx.api("POST", s.paused ? "/resume" : "/pause").catch(ctx.report);
    await render(s.paused ? "Syncing again." : "Paused: nothing is sent or asked until you resume. Changes here are still recorded.");
  });
  const profile = el("select", { id: "setting-profile" },
    ...s.profiles.map((p) => el("option", { value: p, text: p, selected: p === (s.saved.profile ?? s.profile) })));
  const debounce = el("input", { id: "setting-debounce", type: "number", min: 0, max: 60000, step: 10, value: s.debounce_ms });
  const form = el("form", { onsubmit: async (e) => {
    e.preventDefault();
    const asked = {};
    if (profile.value !== s.profile) asked.profile = profile.value;
    if (Number(debounce.value) !== s.debounce_ms) asked.debounce_ms = Number(debounce.value);
    try {
      const saved = await ctx.api("POST", "/settings", asked);
      await render(outcome(saved));
    } catch (error) {
      ctx.report(error);
    }
  } },
  field("setting-debounce", "Debounce (ms)", debounce,
    "A burst of saves goes out as one batch: the first change at once, the rest within this window. Applies at once."),
  field("setting-profile", "Profile", profile,
    `Running: ${s.profile}. low-power keeps fewer notes in memory, pings less and closes idle connections. ` +
    "A switch applies at once, except the settings named below, which wait for the daemon's next start."),
  el("div", { class: "row" }, el("button", { type: "submit", id: "settings-save", text: "Save" })));
  const later = el("p", { id: "settings-next-start", class: s.next_start.length ? "notice" : "muted",
    text: s.next_start.length
      ? `At the daemon's next start: ${s.next_start.join(", ")} (saved; the running daemon keeps its value until then).`
      : "Every saved setting is in effect now." });
  const next = el("div", { class: "page-body", "data-ready": true },
    el("h3", { text: "Sync" }),
    el("div", { class: "row" }, pause, el("span", { id: "sync-state", text: s.paused ? "Sync is paused on this device." : "Sync is on." })),
    el("h3", { text: "Performance" }), form, later, status);
  body?.remove();
  body = next;
  ctx.section.append(body);
}

// What a save did, in words: what applies now and what waits for the next start.
function outcome(saved) {
  const now = saved.applied.length ? `Applied now: ${saved.applied.join(", ")}.` : "Nothing changed.";
  const later = saved.next_start.length ? ` At the next start: ${saved.next_start.join(", ")}.` : "";
  return `Saved in .peervault/config.toml (profile ${saved.profile}, debounce ${saved.debounce_ms} ms). ${now}${later}`;
}

export default {
  id: "settings",
  title: "Settings",
  async enter(section, context) {
    ctx = { ...context, section };
    body = null;
    await render();
  },
  onEvent(event) {
    if (event.kind === "paused" || event.kind === "resumed") render(body?.querySelector("#settings-result")?.textContent).catch(ctx.report);
  },
};
