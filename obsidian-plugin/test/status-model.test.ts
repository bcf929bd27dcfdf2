import assert from "node:assert/strict";
import { test } from "node:test";

import type { Status } from "../src/daemon/schema";
import type { DaemonEvent } from "../src/daemon/types";
import { noticesFor } from "../src/ui/notice-rules";
import { type Input, type Model, initialModel, label, reduce } from "../src/ui/status-model";

function status(over: Partial<Status> = {}): Status {
  return {
    vault: "/v",
    device_id: "d".repeat(64),
    vault_id: "v",
    daemon: { running: true, pid: 1, addrs: [], paused: false },
    peers: [
      { id: "a".repeat(64), addrs: [], paired: true, connected: true, state: "live", last_seen: 1, removed_this_device: false },
      { id: "b".repeat(64), addrs: [], paired: true, connected: false, state: null, last_seen: 1, removed_this_device: false },
    ],
    removed: null,
    files: { tracked: 3, in_index: 3, deleted: 0, not_yet_published: 0, ignored: 0 },
    pending_changes: 0,
    binary_transfers: { wanted: 0, fetching: 0, bytes_received: 0 },
    not_synced: [],
    held_deletions: { count: 0, reason: null, paths: [] },
    metrics: {},
    ...over,
  };
}

const ev = (kind: string, fields: Record<string, unknown> = {}): Input => ({
  type: "event",
  event: { id: 1, at: 0, kind, ...fields } as DaemonEvent,
});
const run = (...inputs: Input[]): Model => inputs.reduce(reduce, initialModel);

test("before any answer: connecting; a status makes it synced", () => {
  assert.equal(label(initialModel).kind, "connecting");
  const m = run({ type: "status", status: status() });
  assert.deepEqual(label(m), { kind: "synced", text: "PeerVault synced", tooltip: "1 of 2 device(s) connected" });
});

test("unreachable: offline, with the reason as tooltip", () => {
  const l = label(run({ type: "status", status: status() }, { type: "unreachable", message: "no socket" }));
  assert.equal(l.kind, "offline");
  assert.equal(l.tooltip, "no socket");
});

test("pending changes: syncing N with a device, waiting without", () => {
  assert.equal(label(run({ type: "status", status: status({ pending_changes: 4 }) })).text, "PeerVault syncing 4");
  const alone = status({ pending_changes: 2, peers: [] });
  assert.equal(label(run({ type: "status", status: alone })).kind, "waiting");
});

test("a local change counts as pending and asks for a status re-read", () => {
  const m = run({ type: "status", status: status() }, ev("local_change", { paths: ["a.md", "b.md"] }));
  assert.equal(m.pending, 2);
  assert.equal(m.stale, true);
  assert.equal(label(m).text, "PeerVault syncing 2");
  assert.equal(reduce(m, { type: "status", status: status() }).stale, false);
});

test("paused and resumed events; paused wins over pending", () => {
  const m = run({ type: "status", status: status({ pending_changes: 3 }) }, ev("paused"));
  assert.equal(label(m).kind, "paused");
  assert.equal(label(reduce(m, ev("resumed"))).kind, "syncing");
});

test("held deletions outrank errors; errors are cleared when seen", () => {
  let m = run({ type: "status", status: status() }, ev("error", { message: "disk full" }));
  assert.equal(label(m).kind, "error");
  assert.equal(label(m).tooltip, "disk full");
  m = reduce(m, ev("held_deletions", { count: 12, reason: "12 of 20 files deleted" }));
  assert.equal(label(m).text, "PeerVault: 12 deletions held");
  m = reduce(reduce(m, { type: "status", status: status() }), { type: "seen" });
  assert.equal(label(m).kind, "synced");
});

test("not-synced files show as problems", () => {
  const m = run({ type: "status", status: status({ not_synced: [{ path: "x.md", reason: "too big" }] }) });
  assert.equal(label(m).text, "PeerVault: 1 problem");
});

test("peer events move the connected count; unknown events change nothing", () => {
  const m = run({ type: "status", status: status() });
  assert.equal(reduce(m, ev("peer_lost")).peersConnected, 0);
  assert.equal(reduce(m, ev("peer_connected")).peersConnected, 2);
  assert.equal(reduce(m, ev("live_update")), m);
});

test("notices: once per outage, when holding starts, once per note not writable here", () => {
  const shown = new Set<string>();
  const ok = run({ type: "status", status: status() });
  const down = reduce(ok, { type: "unreachable", message: "not running" });
  assert.deepEqual(noticesFor(initialModel, down, shown), [{ kind: "offline", message: "not running" }]);
  assert.deepEqual(noticesFor(down, reduce(down, { type: "unreachable", message: "still" }), shown), []);
  const bad = status({ not_synced: [{ path: "a:b.md", reason: "cannot be written here: invalid name" }, { path: "c", reason: "big" }] });
  const m1 = reduce(ok, { type: "status", status: bad });
  assert.deepEqual(noticesFor(ok, m1, shown), [{ kind: "not_here", path: "a:b.md", reason: "invalid name" }]);
  assert.deepEqual(noticesFor(m1, reduce(m1, { type: "status", status: bad }), shown), []);
  const held = reduce(m1, ev("held_deletions", { count: 30, reason: "r" }));
  assert.deepEqual(noticesFor(m1, held, shown), [{ kind: "held", count: 30, reason: "r" }]);
  assert.deepEqual(noticesFor(held, reduce(held, ev("held_deletions", { count: 31 })), shown), []);
});

test("a first import in its own process: importing with its progress, then the full status", () => {
  const importing = status({
    daemon: { running: true, pid: 1, addrs: [], paused: false, scan_done: false, first_import: { files_done: 0, files_total: 0 } },
  });
  let m = run({ type: "status", status: importing });
  assert.equal(label(m).kind, "importing");
  assert.equal(label(m).text, "PeerVault importing …");
  m = reduce(m, ev("first_import", { files_done: 2500, files_total: 10000, done: false }));
  assert.equal(label(m).text, "PeerVault importing 25 %");
  assert.match(label(m).tooltip, /2500 of 10000 files/);
  assert.equal(m.stale, false);
  m = reduce(m, ev("first_import", { files_done: 10000, files_total: 10000, done: true }));
  assert.equal(m.importing, null);
  assert.equal(m.stale, true); // read /status again: the engine's figures
  assert.equal(label(reduce(m, { type: "status", status: status() })).kind, "synced");
  assert.deepEqual(noticesFor(initialModel, run({ type: "status", status: importing }), new Set()), []); // not an outage
});
