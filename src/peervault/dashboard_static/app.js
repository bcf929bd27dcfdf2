// The dashboard's shell: the navigation, one page shown at a time (chosen by the URL's
// #fragment, so the back button and bookmarks work), and the live event stream that
// every page may listen to.

import { ApiError, api, watchEvents } from "./api.js";
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

function problem(message) {
  const box = document.getElementById("problem");
  box.textContent = message ?? "";
  box.hidden = !message;
}

export function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    problem("This browser is not logged in (or the daemon restarted): run `peervault dashboard VAULT` for a new link.");
  } else {
    problem(error.message);
  }
}

function show() {
  const [id, query] = location.hash.slice(1).split("?");
  const page = PAGES.find((p) => p.id === id) ?? PAGES[0];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current?.leave?.();
  document.querySelector("main > section")?.remove();
  const section = el("section", { id: `page-${page.id}`, "aria-labelledby": `title-${page.id}` },
    el("h2", { id: `title-${page.id}`, text: page.title }));
  document.getElementById("main").append(section);
  document.title = `${page.title} · PeerVault`;
  current = page;
  problem(null);
  page.enter(section, { api, report, recent: () => recent }, new URLSearchParams(query ?? "")).catch(report);
}

function setConnection(state) {
  const badge = document.getElementById("connection");
  badge.textContent = { live: "live", reconnecting: "reconnecting…", missed: "live" }[state];
  badge.dataset.state = state;
  if (state === "missed") current?.refresh?.();
}

function start() {
  const nav = document.getElementById("nav");
  for (const page of PAGES) {
    nav.append(el("li", {}, el("a", { href: `#${page.id}`, "data-page": page.id, text: page.title })));
  }
  window.addEventListener("hashchange", () => {
    show();
    document.getElementById("main").focus({ preventScroll: true });
  });
  watchEvents((event) => {
    recent.push(event);
    if (recent.length > KEEP) recent.shift();
    current?.onEvent?.(event);
  }, setConnection);
  api("GET", "/status").then((status) => {
    document.getElementById("vault-name").textContent = status.vault;
  }).catch(report);
  show();
}

start();
