// History: the versions this device kept of a file, a line diff of what restoring one
// would change, and the restore itself (a new edit every device gets; the text the file
// holds now stays a version, so a restore loses nothing).

import { bytes, el, shortId, table, when } from "./format.js";

let ctx = null;
let body = null;
let input = null;

function diffView(shown) {
  if (shown.binary) return el("p", { class: "muted", text: "A binary version: no line diff." });
  if (!shown.lines.length) return el("p", { class: "muted", text: `Identical to ${shown.against}.` });
  const lines = shown.lines.map((line) => {
    const cls = line.startsWith("@@") ? "hunk muted" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : null;
    return el("span", { class: cls, text: line || " " });
  });
  if (shown.truncated) lines.push(el("span", { class: "muted", text: "… (cut: the diff is too long to show whole)" }));
  return el("pre", { class: "diff", "aria-label": `Changes from ${shown.against} to version ${shown.version}` }, ...lines);
}

async function choose(path, version, panel) {
  const shown = await ctx.api("GET", "/history/diff", { path, n: version.version });
  const restore = el("button", { id: "restore-button", type: "button", text: `Restore version ${version.version}` });
  const result = body.querySelector("#history-result");
  restore.addEventListener("click", async () => {
    restore.disabled = true;
    try {
      const done = await ctx.api("POST", "/restore", { path, at: version.version });
      result.className = "notice";
      result.textContent = done.from_peer
        ? `Version ${done.version} is being fetched from another device; it is written when it arrives.`
        : `Restored version ${done.version}: written here and sent to every device.`;
      await show(path);
    } catch (error) {
      ctx.report(error);
      restore.disabled = false;
    }
  });
  panel.replaceChildren(
    el("h3", { text: `Version ${version.version}, compared with ${shown.against}` }),
    el("p", { class: "muted", text: "Lines marked − are in the file now and go away; lines marked + come back." }),
    diffView(shown), el("div", { class: "row" }, restore));
}

async function show(path) {
  const versions = await ctx.api("GET", "/history", { path });
  const panel = el("div", { id: "version-panel" });
  const rows = versions.slice().reverse().map((v) => el("tr", {},
    el("td", { class: "num", text: String(v.version) }),
    el("td", { text: when(v.at) }),
    el("td", {}, v.device === "local" ? "this device" : el("code", { title: v.device, text: shortId(v.device) })),
    el("td", { class: "num", text: bytes(v.size) }),
    el("td", { text: v.change }),
    el("td", {}, el("button", { type: "button", class: "secondary", "data-version": v.version,
      onclick: () => choose(path, v, panel).catch(ctx.report), text: "Compare" }))));
  body.querySelector("#versions")?.remove();
  body.append(el("div", { id: "versions" },
    table(`${versions.length} version(s) of ${path}, newest first`, ["#Version", "When", "Device", "#Size", "Change", ""], rows),
    panel));
  history.replaceState(null, "", ctx.pageHash("history", { path }));
}

async function fillChoices(list) {
  const [files, deleted] = await Promise.all([ctx.api("GET", "/files", { limit: 10000 }), ctx.api("GET", "/deleted")]);
  const paths = new Set([...files.files.map((f) => f.path), ...deleted.map((d) => `${d.path}`)]);
  list.replaceChildren(...[...paths].sort().map((p) => el("option", { value: p })));
}

export default {
  id: "history",
  title: "History",
  async enter(section, context, params) {
    ctx = context;
    const list = el("datalist", { id: "history-paths" });
    input = el("input", { id: "history-path", type: "text", list: "history-paths", size: 50, required: true,
      placeholder: "notes/idea.md", autocomplete: "off", value: params.get("path") ?? "" });
    const form = el("form", { class: "row", onsubmit: (e) => {
      e.preventDefault();
      show(input.value.trim()).catch(ctx.report);
    } }, el("label", { for: "history-path" }, "File", input), list,
    el("button", { type: "submit", text: "Show history" }));
    body = el("div", { class: "page-body", "data-ready": true }, form,
      el("p", { id: "history-result", role: "status", "aria-live": "polite" }));
    section.append(body);
    await fillChoices(list);
    if (input.value) await show(input.value);
  },
};
