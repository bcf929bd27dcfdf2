// Held deletions: files deleted here in a burst that the mass-deletion guard kept from
// the other devices. Apply sends the deletions on; Restore puts the files back from this
// device's copy. Apply asks twice: it deletes the files on every device.

import { el, table, when } from "./format.js";

let ctx = null;
let body = null;
let pending = null;

function actions(count) {
  const result = el("p", { id: "deletions-result", role: "status", "aria-live": "polite" });
  const restore = el("button", { id: "deletions-restore", type: "button", text: `Restore ${count} file(s) here` });
  const apply = el("button", { id: "deletions-apply", type: "button", class: "secondary", text: "Apply the deletions…" });
  let armed = false;
  async function run(path, done) {
    restore.disabled = apply.disabled = true;
    try {
      const answer = await ctx.api("POST", path);
      await refresh();
      const shown = body.querySelector("#deletions-result");
      shown.className = "notice";
      shown.textContent = done(answer);
    } catch (error) {
      ctx.report(error);
      restore.disabled = apply.disabled = false;
    }
  }
  restore.addEventListener("click", () => run("/deletions/restore", (a) => `Put back ${a.done} file(s).`));
  apply.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      apply.textContent = `Delete ${count} file(s) on every device`;
      apply.className = "danger";
      return;
    }
    run("/deletions/apply", (a) => `Deleted ${a.done} file(s) on every device.`);
  });
  return [el("div", { class: "row" }, restore, apply), result];
}

async function refresh() {
  const held = await ctx.api("GET", "/deletions");
  const rows = held.map((d) => el("tr", {},
    el("td", {}, el("code", { text: d.path })), el("td", { text: when(d.held_at) }), el("td", { text: d.reason })));
  const next = el("div", { class: "page-body", "data-ready": true },
    held.length
      ? el("div", {},
        el("p", { text: "These files were deleted on this device in a burst. Nothing was deleted on the other devices yet." }),
        ...actions(held.length),
        table(`${held.length} deletion(s) held`, ["File", "Held", "Why"], rows))
      : el("p", { class: "notice", text: "No deletions are held." }),
    el("p", { id: "deletions-result", role: "status", "aria-live": "polite" }));
  if (held.length) next.lastElementChild.remove();  // the actions have their own
  body?.remove();
  body = next;
  ctx.section.append(body);
}

export default {
  id: "deletions",
  title: "Held deletions",
  async enter(section, context) {
    ctx = { ...context, section };
    body = null;
    await refresh();
  },
  leave() {
    clearTimeout(pending);
  },
  onEvent(event) {
    if (event.kind !== "held_deletions" && event.kind !== "local_change") return;
    clearTimeout(pending);
    pending = setTimeout(() => refresh().catch(ctx.report), 500);
  },
};
