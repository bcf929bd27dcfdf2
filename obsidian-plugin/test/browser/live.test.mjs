// Live co-editing end to end: two real daemons (paired over loopback), two Chromium pages,
// each a CodeMirror editor bound through the plugin's own src/live/binding.ts to one daemon.
// Run: npm run test:browser (needs /usr/bin/chromium and ../.venv/bin/peervault, or
// CHROMIUM_BIN / PEERVAULT_BIN).
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { BIN, CHROMIUM, buildPage, launchBrowser, openPage, servePage, sleep, startPair, waitUntil } from "./harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = process.env.CI_LOG_DIR ?? join(HERE, "screenshots");
const NOTES = {
  "note.md": "Shared note\n",
  "two.md": "first line\nlast line\n",
  "cursor.md": "where is everyone?\n",
  "crash.md": "crash test\n",
  "latency.md": "latency:\n",
  "api.md": "for the contract\n",
};
// A refused fetch while a daemon is down on purpose is logged by Chromium as a console error.
const DAEMON_DOWN = /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)/;

const missing = [BIN, CHROMIUM].filter((p) => !existsSync(p));

describe("live co-editing in two browsers against two real daemons", { skip: missing.length ? `missing ${missing.join(", ")}` : false }, () => {
  let server, pair, browser, A, B;
  let failed = false;

  before(async () => {
    const bundle = await buildPage();
    const served = await servePage(bundle);
    server = served.server;
    pair = await startPair(served.origin, NOTES);
    browser = await launchBrowser();
    A = await openPage(browser.context, served.origin, "A");
    B = await openPage(browser.context, served.origin, "B");
    A.device = pair.a;
    B.device = pair.b;
  });

  after(async () => {
    await browser?.context.close().catch(() => {});
    await pair?.a.stop();
    await pair?.b.stop();
    server?.close();
    if (failed) console.log(`daemon logs kept in ${pair?.logs}`);
    else pair?.cleanup();
  });

  async function open(side, path) {
    const d = side.device;
    await side.page.evaluate((args) => window.pv.open(args), { port: d.apiPort, token: d.token, path, client: `page-${side.label}` });
    await waitUntil(() => side.page.evaluate(() => window.pv.live()), `${side.label} live on ${path}`, 20_000);
  }
  const text = (side) => side.page.evaluate(() => window.pv.text());
  const fallbacks = (side) => side.page.evaluate(() => window.pv.fallbacks);
  async function settled(path, expected, timeoutMs = 30_000) {
    await waitUntil(async () => (await text(A)) === expected && (await text(B)) === expected, `both editors to read ${JSON.stringify(expected)}`, timeoutMs);
    await waitUntil(() => pair.a.read(path) === expected && pair.b.read(path) === expected, `${path} on both disks`, timeoutMs);
  }
  function noErrors(tolerate) {
    const errs = [...A.errors, ...B.errors].filter((e) => !(tolerate && tolerate.test(e)));
    A.errors.length = 0;
    B.errors.length = 0;
    assert.deepEqual(errs, []);
  }
  async function guard(fn) {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  }

  it("the live API answers as the contract says", () =>
    guard(async () => {
      const a = pair.a;
      const opened = await a.api("POST", "/live/open", { path: "api.md", client: "contract" });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      assert.deepEqual(Object.keys(opened.body).sort(), ["device_id", "device_name", "file_id", "snapshot"]);
      const missingNote = await a.api("POST", "/live/open", { path: "nope.md", client: "contract" });
      assert.equal(missingNote.status, 404, JSON.stringify(missingNote.body));
      assert.ok(missingNote.body.error?.code && missingNote.body.error?.message, JSON.stringify(missingNote.body));
      const presence = await a.api("POST", "/live/presence", { path: "api.md", client: "contract", data: "" });
      assert.equal(presence.status, 200, JSON.stringify(presence.body));
      const closed = await a.api("POST", "/live/close", { path: "api.md", client: "contract" });
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      // the browser's preflight for a JSON POST with a token
      const pre = await fetch(`http://127.0.0.1:${a.apiPort}/live/update`, {
        method: "OPTIONS",
        headers: {
          Origin: new URL(A.page.url()).origin,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization,content-type",
        },
      });
      assert.ok(pre.status < 300, `preflight ${pre.status}`);
      assert.equal(pre.headers.get("access-control-allow-origin"), new URL(A.page.url()).origin);
    }));

  it("typing in A shows in B and in both files, with no console errors", () =>
    guard(async () => {
      await open(A, "note.md");
      await open(B, "note.md");
      await settled("note.md", "Shared note\n");
      await A.page.evaluate(() => window.pv.place(-1));
      await A.page.keyboard.type("Typed in A, key by key.", { delay: 15 });
      await settled("note.md", "Shared note\nTyped in A, key by key.");
      await sleep(300); // the last presence updates land
      mkdirSync(SHOTS, { recursive: true });
      await A.page.screenshot({ path: join(SHOTS, "live-A.png") });
      await B.page.screenshot({ path: join(SHOTS, "live-B.png") });
      assert.deepEqual([...(await fallbacks(A)), ...(await fallbacks(B))], []);
      noErrors();
    }));

  it("two people typing at once at different places both keep their text", () =>
    guard(async () => {
      await open(A, "two.md");
      await open(B, "two.md");
      await settled("two.md", "first line\nlast line\n");
      await A.page.evaluate(() => window.pv.place(-1));
      await B.page.evaluate(() => window.pv.place(0));
      await Promise.all([
        A.page.keyboard.type("A wrote this at the end.", { delay: 25 }),
        B.page.keyboard.type("B wrote this first. ", { delay: 25 }),
      ]);
      await settled("two.md", "B wrote this first. first line\nlast line\nA wrote this at the end.");
      // each one's cursor stayed where they were typing, although the other's text arrived meanwhile
      const bAt = "B wrote this first. ".length;
      assert.deepEqual(await B.page.evaluate(() => window.pv.selection()), [bAt, bAt]);
      const end = (await text(A)).length;
      assert.deepEqual(await A.page.evaluate(() => window.pv.selection()), [end, end]);
      // a selection in A (the word "first" of "first line") is kept while B types before it
      const from = bAt;
      await A.page.evaluate((f) => window.pv.select(f, f + 5), from);
      await B.page.keyboard.type("More. ", { delay: 25 });
      await settled("two.md", "B wrote this first. More. first line\nlast line\nA wrote this at the end.");
      const sel = await A.page.evaluate(() => window.pv.selection());
      assert.deepEqual(sel, [from + 6, from + 11], "A's selection moved with its text");
      noErrors();
    }));

  it("a remote cursor is drawn", () =>
    guard(async () => {
      await open(A, "cursor.md");
      await open(B, "cursor.md");
      await settled("cursor.md", NOTES["cursor.md"]);
      await A.page.evaluate(() => window.pv.place(5));
      await A.page.keyboard.press("ArrowRight");
      const name = (await pair.a.api("POST", "/live/open", { path: "cursor.md", client: "page-A" })).body.device_name;
      const drawn = (c) => c.cls.startsWith("loro-cursor pv-live-c") && c.name === JSON.stringify(name);
      let seen = [];
      await waitUntil(async () => {
        seen = await B.page.evaluate(() => window.pv.remoteCursors());
        return seen.some(drawn);
      }, "A's cursor, with A's name and colour, in B", 15_000).catch((err) => {
        throw new Error(`${err.message}; drawn: ${JSON.stringify(seen)}`);
      });
      // where A's cursor is: after "where" plus one step right
      await waitUntil(async () => (await B.page.evaluate(() => window.pv.remoteCursorOffsets())).includes(6), "A's cursor at offset 6 in B", 15_000);
      noErrors();
    }));

  it("a daemon killed and restarted while typing loses nothing", () =>
    guard(async () => {
      await open(A, "crash.md");
      await open(B, "crash.md");
      await settled("crash.md", "crash test\n");
      await A.page.evaluate(() => window.pv.place(-1));
      await A.page.keyboard.type("before the kill. ", { delay: 20 });
      await settled("crash.md", "crash test\nbefore the kill. ");
      // killed mid-word: some of these keys are on their way to the daemon as it dies
      const typing = A.page.keyboard.type("typed just as ", { delay: 20 });
      await sleep(120);
      await pair.a.stop("SIGKILL");
      await typing;
      await A.page.keyboard.type("it died. ", { delay: 20 });
      await waitUntil(async () => !(await A.page.evaluate(() => window.pv.live())), "A's binding to notice its daemon is gone", 10_000);
      await pair.a.start();
      await A.page.keyboard.type("after the restart.", { delay: 20 });
      await settled("crash.md", "crash test\nbefore the kill. typed just as it died. after the restart.", 90_000);
      assert.deepEqual([...(await fallbacks(A)), ...(await fallbacks(B))], []);
      noErrors(DAEMON_DOWN);
    }));

  it("a note the daemon cannot bind falls back to plain editing, once, and stays editable", () =>
    guard(async () => {
      const d = A.device;
      await A.page.evaluate((args) => window.pv.open(args), { port: d.apiPort, token: d.token, path: "never-synced.md", client: "page-A", notTrackedGraceMs: 800 });
      await waitUntil(async () => (await fallbacks(A)).length > 0, "the fallback", 10_000);
      await A.page.evaluate(() => window.pv.place(0));
      await A.page.keyboard.type("still editable", { delay: 10 });
      assert.equal(await text(A), "still editable");
      await sleep(1500); // nothing retries behind the person's back
      const fell = await fallbacks(A);
      assert.equal(fell.length, 1, JSON.stringify(fell));
      assert.equal(fell[0].path, "never-synced.md");
      assert.match(fell[0].reason, /404|not tracked|no note/i);
      assert.equal(await A.page.evaluate(() => window.pv.live()), false);
      noErrors(/404 \(Not Found\)/);
    }));

  it("latency: a keystroke in A is in B's editor soon after", () =>
    guard(async () => {
      await open(A, "latency.md");
      await open(B, "latency.md");
      await settled("latency.md", "latency:\n");
      await A.page.evaluate(() => window.pv.place(-1));
      await sleep(500);
      await A.page.evaluate(() => window.pv.startRecording());
      await B.page.evaluate(() => window.pv.startRecording());
      const typed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"; // 50 keys
      await A.page.keyboard.type(typed, { delay: 100 });
      await settled("latency.md", `latency:\n${typed}`);
      const base = "latency:\n".length;
      const inA = await A.page.evaluate(() => window.pv.changes);
      const inB = await B.page.evaluate(() => window.pv.changes);
      const ms = [];
      for (let k = 1; k <= typed.length; k++) {
        const sent = inA.find((c) => c.len >= base + k);
        const seen = inB.find((c) => c.len >= base + k);
        assert.ok(sent && seen, `keystroke ${k} recorded on both pages`);
        ms.push(seen.at - sent.at);
      }
      ms.sort((x, y) => x - y);
      const pick = (q) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)];
      const figure = {
        figure: "keystroke_to_other_editor_ms",
        median: Math.round(pick(0.5) * 10) / 10,
        p95: Math.round(pick(0.95) * 10) / 10,
        n: ms.length,
      };
      console.log(JSON.stringify(figure));
      if (process.env.PEERVAULT_BENCH_OUT) appendFileSync(process.env.PEERVAULT_BENCH_OUT, JSON.stringify(figure) + "\n");
      assert.ok(figure.median < 500, JSON.stringify(figure));
      noErrors();
    }));
});
