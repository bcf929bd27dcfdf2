/**
 * The plugin's daemon client against a real `peervault run`: node-transport over the socket
 * and over TCP with the token, DaemonApi's errors, EventHub's fan-out and its restart, the
 * status controller and the commands (through the fake Obsidian's Plugin and Notice).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { notices, Plugin } from "./fake-obsidian"; // the same module the code under test gets as "obsidian"

import { registerCommands } from "../src/commands";
import { DaemonApi } from "../src/daemon/api";
import { EventHub } from "../src/daemon/events";
import { NodeTransport } from "../src/daemon/node-transport";
import type { FilesPage, HistoryEntry, Invite, Status, VersionText } from "../src/daemon/schema";
import { DaemonError, type DaemonEvent, DaemonUnreachable } from "../src/daemon/types";
import type { Host } from "../src/host";
import { DEFAULT_SETTINGS } from "../src/settings";
import { lineDiff, summary } from "../src/ui/diff";
import { StatusController } from "../src/ui/status-bar";
import { label } from "../src/ui/status-model";
import { qrMatrix, ticketProblem } from "../src/ui/ticket";
import { cleanup, freePort, makeVault, RunningDaemon, until } from "./daemon";

let base: string;
let vault: string;
let daemon: RunningDaemon;
let api: DaemonApi;
let hub: EventHub;
const seen: DaemonEvent[] = [];
const connection: boolean[] = [];
let missed = 0;

before(async () => {
  ({ base, vault } = makeVault());
  writeFileSync(join(vault, "note.md"), "hello\nworld\n");
  daemon = await new RunningDaemon(vault, await freePort()).start();
  api = new DaemonApi(new NodeTransport({ vault }));
  hub = new EventHub(api, { minBackoffMs: 50, maxBackoffMs: 200 });
  hub.on("*", (ev) => seen.push(ev));
  hub.onConnection((up) => connection.push(up));
  hub.onMissed(() => missed++);
  hub.start();
  await until("the event hub to connect", () => (hub.connected ? true : undefined));
});

after(async () => {
  hub?.stop();
  await daemon?.stop();
  if (base) cleanup(base);
});

test("status over the socket", async () => {
  const s = await api.get<Status>("/status");
  assert.match(s.device_id, /^[0-9a-f]{64}$/);
  assert.equal(s.daemon.running, true);
  assert.equal(s.daemon.paused, false);
  assert.deepEqual(s.peers, []);
});

test("files lists the note", async () => {
  const page = await until("note.md tracked", async () => {
    const p = await api.get<FilesPage>("/files");
    return p.files.some((f) => f.path === "note.md") ? p : undefined;
  });
  assert.equal(page.total, 1);
  assert.equal((await api.get<FilesPage>("/files?state=not_synced")).total, 0);
});

test("history of an edited note, a version's text, and the diff to now", async () => {
  await until("the first version", async () => ((await api.get<HistoryEntry[]>("/history?path=note.md")).length ? true : undefined));
  writeFileSync(join(vault, "note.md"), "hello\nthere\nworld\n");
  const versions = await until("the second version", async () => {
    const h = await api.get<HistoryEntry[]>(`/history?path=${encodeURIComponent("note.md")}`);
    return h.length >= 2 ? h : undefined;
  });
  assert.equal(versions[0]!.device, "local");
  const v1 = await api.get<VersionText>(`/history/version?path=note.md&n=${versions[0]!.version}`);
  assert.equal(v1.text, "hello\nworld\n");
  assert.deepEqual(summary(lineDiff(v1.text!, "hello\nthere\nworld\n")), { added: 1, removed: 0 });
  await until("the local_change event", () => (seen.some((e) => e.kind === "local_change") ? true : undefined));
});

test("a missing history is a 404 DaemonError with the daemon's message", async () => {
  await assert.rejects(api.get("/history?path=missing.md"), (err: unknown) => {
    assert.ok(err instanceof DaemonError);
    assert.equal(err.status, 404);
    assert.equal(err.code, "NotFound");
    assert.match(err.message, /missing\.md/);
    return true;
  });
});

test("invite: a ticket the UI accepts and can draw", async () => {
  const inv = await api.post<Invite>("/invite", { ttl: 600 });
  assert.equal(ticketProblem(inv.ticket), null);
  assert.ok(inv.expires_at > Date.now() / 1000 + 500);
  assert.ok(qrMatrix(inv.ticket).size > 21);
});

test("pause and resume events arrive through the EventHub", async () => {
  const kinds: string[] = [];
  const offP = hub.on("paused", (e) => kinds.push(e.kind));
  const offR = hub.on("resumed", (e) => kinds.push(e.kind));
  assert.deepEqual(await api.post("/pause"), { paused: true });
  await until("paused", () => (kinds.includes("paused") ? true : undefined));
  assert.equal((await api.get<Status>("/status")).daemon.paused, true);
  await api.post("/resume");
  await until("resumed", () => (kinds.includes("resumed") ? true : undefined));
  offP();
  offR();
  await api.post("/pause");
  await api.post("/resume");
  await until("the next events", () => (seen.filter((e) => e.kind === "resumed").length >= 2 ? true : undefined));
  assert.deepEqual(kinds, ["paused", "resumed"]); // unsubscribed: no more calls
});

test("the status controller reads the daemon and follows its events", async () => {
  const status = new StatusController(api, hub, null);
  status.start();
  try {
    await until("a status", () => (status.model.reachable ? true : undefined));
    assert.equal(label(status.model).kind, "synced");
    await api.post("/pause");
    await until("paused in the bar", () => (label(status.model).kind === "paused" ? true : undefined));
    await api.post("/resume");
    await until("synced again", () => (label(status.model).kind === "synced" ? true : undefined));
  } finally {
    status.stop();
  }
});

test("commands: sync now, pause and resume, each says what it did", async () => {
  const plugin = new Plugin();
  const status = new StatusController(api, hub, null);
  await status.refresh();
  const host = { daemon: api, status, events: hub, settings: DEFAULT_SETTINGS } as unknown as Host;
  registerCommands(plugin as never, host);
  const cmd = (id: string) => plugin.commands.find((c) => c.id === id)!;
  const say = async (f: () => unknown, re: RegExp) => {
    const n = notices.length;
    f();
    await until(`a notice ${re}`, () => (notices.slice(n).some((m) => re.test(m)) ? true : undefined));
  };
  await say(() => cmd("sync-now").callback!(), /syncing now with 0 device/);
  assert.equal(cmd("resume").checkCallback!(true), false); // not paused: only "pause" is offered
  await say(() => cmd("pause").checkCallback!(false), /sync paused/);
  await status.refresh();
  assert.equal(cmd("pause").checkCallback!(true), false);
  await say(() => cmd("resume").checkCallback!(false), /syncing again/);
});

test("TCP: the token from .peervault/api-token works; a wrong one is a 401", async () => {
  const tcp = new DaemonApi(new NodeTransport({ vault, target: { kind: "tcp", port: daemon.port } }));
  assert.equal((await tcp.get<Status>("/status")).daemon.running, true);
  const elsewhere = join(base, "wrong");
  mkdirSync(join(elsewhere, ".peervault"), { recursive: true });
  writeFileSync(join(elsewhere, ".peervault", "api-token"), "not-the-token\n");
  const wrong = new DaemonApi(new NodeTransport({ vault: elsewhere, target: { kind: "tcp", port: daemon.port } }));
  await assert.rejects(wrong.get("/status"), (err: unknown) => err instanceof DaemonError && err.status === 401 && err.code === "Unauthorized");
  const none = new DaemonApi(new NodeTransport({ vault: join(base, "nowhere"), target: { kind: "tcp", port: daemon.port } }));
  await assert.rejects(none.get("/status"), (err: unknown) => err instanceof DaemonUnreachable && /api-token/.test(err.message));
});

test("the daemon stopped: DaemonUnreachable, the hub says so, and reconnects when it is back", async () => {
  const missedBefore = missed;
  assert.equal(await daemon.stop(), 0);
  await assert.rejects(api.get("/status"), (err: unknown) => err instanceof DaemonUnreachable && /not running/.test(err.message));
  const tcp = new DaemonApi(new NodeTransport({ vault, target: { kind: "tcp", port: daemon.port } }));
  await assert.rejects(tcp.get("/status"), DaemonUnreachable);
  await until("the hub to notice", () => (connection.at(-1) === false ? true : undefined));
  assert.equal(hub.connected, false);

  daemon = await new RunningDaemon(vault, daemon.port).start();
  await until("the hub to reconnect", () => (hub.connected ? true : undefined));
  assert.ok(missed > missedBefore, "listeners are told to read the status afresh");
  const n = seen.length;
  await api.post("/pause");
  await until("events from the new daemon", () => (seen.slice(n).some((e) => e.kind === "paused") ? true : undefined));
  await api.post("/resume");
});
