// The dashboard's shell: the vault selector, the navigation, one page shown at a time
// (chosen by the URL's #fragment, `#PAGE?vault=ID&…`, so the back button and bookmarks
// work and keep their vault), and the chosen vault's live event stream that every page
// may listen to.

import { ApiError, api, apiRoot, useVault, watchEvents } from "./api.js";
import { el } from "./format.js";
import activity from "./activity.js";
import deletions from "./deletions.js";
import historyPage from "./history.js";
import overview from "./overview.js";
import plot from "./plot.js";
import settings from "./settings.js";
import unsynced from "./unsynced.js";

const PAGES = [overview, plot, activity, unsynced, historyPage, deletions, settings];
const KEEP = 300;  // events kept for a page opened later (Activity)
const recent = [];
let current = null;
let vaults = [];
let vaultId = null;
let source = null;

function problem(message) {
  const box = document.getElementById("problem");
  box.textContent = message ?? "";
  box.hidden = !message;
}

export function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    problem("This browser is not logged in (or the daemon restarted): run `peervault dashboard` for a new link.");
  } else {
    problem(error.message);
  }
}

// The fragment for a page of the chosen vault (or of `vault`), with its own parameters.
function pageHash(page, params = {}, vault = vaultId) {
  const query = new URLSearchParams(params);
  if (vault) query.set("vault", vault);
  return `#${page}?${query}`;
}

function label(v) {
  return v.state === "running" ? v.name : `${v.name} (${v.state})`;
}

// The vaults as the daemon lists them now: the selector follows their names and states.
function setVaults(list) {
  vaults = list;
  const select = document.getElementById("vault-select");
  select.replaceChildren(...vaults.map((v) => el("option", { value: v.id, text: label(v), title: v.path,
    selected: v.id === vaultId })));
  select.closest("label").hidden = vaults.length < 2;
  const chosen = vaults.find((v) => v.id === vaultId);
  document.getElementById("vault-name").textContent = chosen?.path ?? "";
  listen(chosen);
}

// The chosen vault's event stream, while it runs: opened again once a vault that was
// starting or restarting runs (the browser gives up on a stream that answered 503).
function listen(chosen) {
  if (!vaultId) return;  // none chosen yet (the page is starting)
  if (source && source.readyState !== EventSource.CLOSED && source.vault === chosen?.id) return;
  source?.close();
  source = null;
  if (chosen?.state !== "running") {
    setConnection("stopped");  // its routes answer 503 with the reason, which the page shows
    return;
  }
  source = watchEvents((event) => {
    recent.push(event);
    if (recent.length > KEEP) recent.shift();
    current?.onEvent?.(event);
  }, setConnection);
  source.vault = chosen.id;
}

function chooseVault(id) {
  if (id === vaultId) return;
  vaultId = id;
  useVault(id);
  recent.length = 0;
  for (const link of document.querySelectorAll("#nav a")) link.href = pageHash(link.dataset.page);
  setVaults(vaults);
}

function show() {
  const [id, query] = location.hash.slice(1).split("?");
  const params = new URLSearchParams(query ?? "");
  const wanted = params.get("vault");
  params.delete("vault");
  const named = wanted ? vaults.find((v) => v.id === wanted) ?? vaults.find((v) => v.vault_id === wanted) : undefined;
  const found = named ?? vaults.find((v) => v.id === vaultId) ?? vaults.find((v) => v.state === "running") ?? vaults[0];
  chooseVault(found?.id ?? null);
  const page = PAGES.find((p) => p.id === id) ?? PAGES[0];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current?.leave?.();
  document.querySelector("main > section")?.remove();
  const section = el("section", { id: `page-${page.id}`, "aria-labelledby": `title-${page.id}`, "data-vault": vaultId ?? "" },
    el("h2", { id: `title-${page.id}`, text: page.title }));
  document.getElementById("main").append(section);
  document.title = `${page.title} · PeerVault`;
  current = page;
  problem(null);
  const context = { api, apiRoot, report, recent: () => recent, vault: () => vaultId, setVaults, pageHash };
  page.enter(section, context, params).catch(report);
}

function setConnection(state) {
  const badge = document.getElementById("connection");
  badge.textContent = { live: "live", reconnecting: "reconnecting…", missed: "live", stopped: "vault not running" }[state];
  badge.dataset.state = state;
  if (state === "missed") current?.refresh?.();
}

async function start() {
  const nav = document.getElementById("nav");
  for (const page of PAGES) {
    nav.append(el("li", {}, el("a", { href: `#${page.id}`, "data-page": page.id, text: page.title })));
  }
  document.getElementById("vault-select").addEventListener("change", (e) => {
    location.hash = pageHash(current?.id ?? PAGES[0].id, {}, e.target.value);  // a page's own parameters are the old vault's
  });
  window.addEventListener("hashchange", () => {
    show();
    document.getElementById("main").focus({ preventScroll: true });
  });
  try {
    setVaults(await apiRoot("GET", "/vaults"));
  } catch (error) {
    report(error);
    return;
  }
  show();
}

start();
