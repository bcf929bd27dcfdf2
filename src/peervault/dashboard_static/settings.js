// Settings that are safe to change while the daemon runs: pause, the debounce (applied at
// once) and the profile (saved; applies when the daemon next starts).

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
    try {
      const saved = await ctx.api("POST", "/settings", { profile: profile.value, debounce_ms: Number(debounce.value) });
      const later = saved.profile !== (saved.saved.profile ?? saved.profile)
        ? ` The ${saved.saved.profile} profile applies when the daemon next starts.` : "";
      await render(`Saved in .peervault/config.toml. Debounce ${saved.debounce_ms} ms from now on.${later}`);
    } catch (error) {
      ctx.report(error);
    }
  } },
  field("setting-debounce", "Debounce (ms)", debounce,
    "A burst of saves goes out as one batch: the first change at once, the rest within this window. Applies at once."),
  field("setting-profile", "Profile", profile,
    `Running: ${s.profile}. low-power keeps fewer notes in memory, pings less and closes idle connections; applies when the daemon next starts.`),
  el("div", { class: "row" }, el("button", { type: "submit", id: "settings-save", text: "Save" })));
  const next = el("div", { class: "page-body", "data-ready": true },
    el("h3", { text: "Sync" }),
    el("div", { class: "row" }, pause, el("span", { id: "sync-state", text: s.paused ? "Sync is paused on this device." : "Sync is on." })),
    el("h3", { text: "Performance" }), form, status);
  body?.remove();
  body = next;
  ctx.section.append(body);
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
