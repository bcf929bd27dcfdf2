// What the browser tests stand on: the test page's bundle (esbuild), a tiny static server for
// it, two real paired `peervault` daemons serving the API on loopback TCP, and Debian's
// Chromium driven by playwright-core.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import esbuild from "esbuild";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const PLUGIN = resolve(HERE, "../..");
export const BIN = process.env.PEERVAULT_BIN ?? resolve(PLUGIN, "../.venv/bin/peervault");
export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const ENV = { ...process.env, PEERVAULT_NO_RELAY: "1", PEERVAULT_NO_MDNS: "1", PYTHONUNBUFFERED: "1" };
const run = promisify(execFile);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(cond, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${String(last)})`);
    await sleep(50);
  }
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** The page and its bundle, built from test/browser/page.ts with the plugin's own modules. */
export async function buildPage(entry = "page.ts") {
  const out = await esbuild.build({
    entryPoints: [join(HERE, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    alias: { "loro-crdt": "loro-crdt/base64" }, // the wasm inlined: nothing else to serve
    logLevel: "warning",
  });
  return out.outputFiles[0].contents;
}

/** Serves the page and its bundle, and `files`: { "/url": [content type, body] }. */
export async function servePage(bundle, files = {}) {
  const html =
    '<!doctype html><meta charset="utf-8"><title>PeerVault test page</title>' +
    '<style>body{margin:0;font:16px sans-serif} #editor{height:100vh} .cm-editor{height:100%}</style>' +
    '<div id="editor"></div><div id="status-bar"></div><script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === "/" || req.url === "/index.html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html);
    } else if (req.url === "/page.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" }).end(bundle);
    } else if (files[req.url]) {
      res.writeHead(200, { "Content-Type": files[req.url][0] }).end(files[req.url][1]);
    } else if (req.url === "/favicon.ico") {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** One vault and its daemon, as the person would run it: `peervault run VAULT --api 127.0.0.1:PORT`. */
export class Device {
  constructor(root, logs, apiPort) {
    this.root = root;
    this.name = root.split("/").pop();
    this.logs = logs;
    this.apiPort = apiPort;
    this.proc = null;
    this.runs = 0;
  }

  async cli(...args) {
    try {
      return await run(BIN, args, { env: ENV, timeout: 90_000 });
    } catch (err) {
      throw new Error(`peervault ${args.join(" ")} failed: ${err.stdout ?? ""}${err.stderr ?? ""}${err.message}`);
    }
  }

  async init(origin) {
    await this.cli("init", this.root);
    // The test page's origin may call this daemon's API (it refuses other web pages).
    writeFileSync(join(this.root, ".peervault", "config.toml"), `api_origins = [${JSON.stringify(origin)}]\n`);
  }

  get token() {
    return readFileSync(join(this.root, ".peervault", "api-token"), "utf8").trim();
  }

  write(rel, text) {
    writeFileSync(join(this.root, rel), text);
  }

  read(rel) {
    try {
      return readFileSync(join(this.root, rel), "utf8");
    } catch {
      return null;
    }
  }

  runtime() {
    try {
      return JSON.parse(readFileSync(join(this.root, ".peervault", "daemon.json"), "utf8"));
    } catch {
      return null;
    }
  }

  connected() {
    return Object.keys(this.runtime()?.connected ?? {}).length;
  }

  async start() {
    if (this.proc) throw new Error(`${this.name} runs already`);
    this.runs += 1;
    const log = openSync(join(this.logs, `${this.name}-${this.runs}.log`), "w");
    const proc = spawn(
      BIN,
      ["--log-level", "debug", "run", this.root, "--bind", "127.0.0.1:0", "--api", `127.0.0.1:${this.apiPort}`],
      { env: ENV, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    this.proc = proc;
    this.exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal })));
    await waitUntil(() => this.runtime()?.pid === proc.pid || proc.exitCode !== null, `${this.name}'s daemon to start`);
    if (proc.exitCode !== null) throw new Error(`${this.name}'s daemon exited (${proc.exitCode}); see ${this.logs}`);
    await waitUntil(() => this.api("GET", "/status").then((r) => r.status === 200), `${this.name}'s API on port ${this.apiPort}`);
  }

  async stop(signal = "SIGTERM") {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** The API from Node (no Origin header): for the test's own checks. */
  async api(method, path, body) {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* text */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

/** A and B, paired and running, with `notes` written in A and arrived in B. */
export async function startPair(origin, notes) {
  const dir = mkdtempSync(join(tmpdir(), "pv-browser-"));
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const a = new Device(join(dir, "A"), logs, await freePort());
  const b = new Device(join(dir, "B"), logs, await freePort());
  await a.init(origin);
  await b.init(origin);
  for (const [rel, text] of Object.entries(notes)) a.write(rel, text);
  await a.start();
  const ticket = (await a.cli("invite", a.root)).stdout.trim();
  await b.cli("join", b.root, ticket, "--bind", "127.0.0.1:0");
  await b.start();
  await waitUntil(() => a.connected() >= 1 && b.connected() >= 1, "A and B connected", 60_000);
  for (const [rel, text] of Object.entries(notes)) await waitUntil(() => b.read(rel) === text, `${rel} in B`, 60_000);
  // each note tracked on both sides (the live API answers 404 until it is)
  for (const d of [a, b]) {
    for (const rel of Object.keys(notes)) {
      await waitUntil(async () => (await d.api("GET", "/files")).body.files?.some((f) => f.path === rel), `${rel} tracked in ${d.name}`);
    }
  }
  return { dir, logs, a, b, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "pv-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 900, height: 500 },
  });
  return { context, profile };
}

/** A page with the harness loaded, and the console errors and page errors it shows. */
export async function openPage(context, origin, label, global = "pv") {
  const page = await context.newPage();
  const errors = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`${label} console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`${label} pageerror: ${err.message}`));
  await page.goto(origin + "/");
  await page.waitForFunction((name) => window[name] !== undefined, global);
  return { page, errors, label };
}
