// The built plugin (src/peervault/obsidian_plugin/main.js, what `peervault obsidian install`
// copies) loads in a real browser as Obsidian would load it, with no daemon running: every
// module initialises, it registers its commands, view, settings tab, status bar and editor
// extension, says the daemon is not running, leaves a note editable, and unloads cleanly.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { CHROMIUM, buildPage, launchBrowser, openPage, servePage, sleep, waitUntil } from "./harness.mjs";

const BUILT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/peervault/obsidian_plugin");
const missing = [CHROMIUM, join(BUILT, "main.js")].filter((p) => !existsSync(p));
const COMMANDS = ["sync-now", "pause", "resume", "history", "restore-deleted", "held-deletions", "copy-invite", "start-daemon"];

describe("the built plugin in a browser", { skip: missing.length ? `missing ${missing.join(", ")}` : false }, () => {
  let server, browser, P;

  before(async () => {
    const files = {
      "/main.js": ["text/javascript", readFileSync(join(BUILT, "main.js"))],
      "/manifest.json": ["application/json", readFileSync(join(BUILT, "manifest.json"))],
    };
    const served = await servePage(await buildPage("plugin-page.ts"), files);
    server = served.server;
    browser = await launchBrowser();
    P = await openPage(browser.context, served.origin, "plugin", "built");
  });

  after(async () => {
    await browser?.context.close().catch(() => {});
    server?.close();
  });

  it("loads, registers everything, and says the daemon is not running", async () => {
    await P.page.evaluate(() => window.built.load("/main.js"));
    const rec = await P.page.evaluate(() => ({ ...window.built.record, statusBar: window.built.record.statusBar.length }));
    for (const id of COMMANDS) assert.ok(rec.commands.includes(id), `command ${id} in ${rec.commands}`);
    assert.deepEqual(rec.views, ["peervault-history"]);
    assert.equal(rec.settingTabs, 1);
    assert.equal(rec.extensions.length, 1);
    assert.equal(rec.statusBar, 1);
    await waitUntil(async () => (await P.page.evaluate(() => window.built.statusBar()))[0] === "PeerVault offline", "the status bar to say offline", 10_000);
    await waitUntil(async () => (await P.page.evaluate(() => window.built.record.notices)).some((n) => /not running|cannot reach/i.test(n) && /Start peervault run/.test(n)), "the notice offering to start the daemon", 10_000);
    assert.deepEqual(P.errors, []);
  });

  it("leaves a note editable with its editor extension and unloads cleanly", async () => {
    await P.page.evaluate(() => window.built.mount("note.md", "Hello\n"));
    await P.page.keyboard.type("typed with the plugin loaded", { delay: 5 });
    assert.equal(await P.page.evaluate(() => window.built.text()), "Hello\ntyped with the plugin loaded");
    await P.page.evaluate(() => window.built.unload());
    await sleep(200);
    assert.deepEqual(await P.page.evaluate(() => window.built.statusBar()), [], "the status bar item is removed");
    assert.deepEqual(P.errors, []);
  });
});
