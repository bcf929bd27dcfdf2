import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_SETTINGS, SettingsStore, targetOf } from "../src/settings";
import { deviceLabel, shortId } from "../src/ui/format";
import { cleanTicket, expiresText, qrMatrix, qrPath, qrViewBox, ticketProblem } from "../src/ui/ticket";

const TICKET = "pv1" + "n3dkpfviydxr4ba3xfgw2ludwuo22ez2bcck5m437t3nzgkcamhqaaaaabvrgnixmvxgi4dpnfxhiyldo4zxu6d";

test("pasted tickets are cleaned: spaces, line breaks, quotes, capitals", () => {
  assert.equal(cleanTicket(`  "${TICKET.slice(0, 30)}\n  ${TICKET.slice(30).toUpperCase()}" `), TICKET);
});

test("ticket problems are named before the daemon is asked", () => {
  assert.equal(ticketProblem(TICKET), null);
  assert.match(ticketProblem("")!, /paste/);
  assert.match(ticketProblem("hello")!, /pv1/);
  assert.match(ticketProblem("pv1abc")!, /not a whole ticket/);
  assert.match(ticketProblem(TICKET + "0")!, /not a whole ticket/);
});

test("the QR code: a square matrix with finder patterns, drawn as runs", () => {
  const m = qrMatrix(TICKET);
  assert.ok(m.size >= 21 && (m.size - 17) % 4 === 0, `size ${m.size}`);
  for (const [r, c] of [[0, 0], [0, m.size - 7], [m.size - 7, 0]] as const) {
    assert.ok(m.dark(r, c) && m.dark(r + 6, c + 6) && !m.dark(r + 1, c + 1) && m.dark(r + 3, c + 3), "finder pattern");
  }
  const d = qrPath(m);
  let darkCells = 0;
  for (let r = 0; r < m.size; r++) for (let c = 0; c < m.size; c++) if (m.dark(r, c)) darkCells++;
  const drawn = [...d.matchAll(/h(\d+)/g)].reduce((s, x) => s + Number(x[1]), 0);
  assert.equal(drawn, darkCells);
  assert.ok(d.startsWith("M4 4h7"), d.slice(0, 20)); // the top-left finder's first row, inside the quiet zone
  assert.equal(qrViewBox(m), `0 0 ${m.size + 8} ${m.size + 8}`);
});

test("expiry is said in local time and minutes", () => {
  const now = 1_800_000_000;
  assert.match(expiresText(now + 3600, now), /^valid until \d\d:\d\d \(60 min\), for one device$/);
});

test("device labels", () => {
  assert.equal(deviceLabel("local"), "this device");
  assert.equal(deviceLabel("0123456789abcdef"), "0123456789");
  assert.equal(shortId("ab"), "ab");
});

test("settings: per vault folder in local storage, defaults for anything unreadable", () => {
  const mem = new Map<string, string>();
  const storage = { getItem: (k: string) => mem.get(k) ?? null, setItem: (k: string, v: string) => void mem.set(k, v) };
  const a = new SettingsStore(storage, "/notes");
  assert.deepEqual(a.load(), DEFAULT_SETTINGS);
  a.save({ connection: "tcp", port: 9000, executable: "/opt/pv/bin/peervault" });
  assert.deepEqual(targetOf(a.load()), { kind: "tcp", port: 9000 });
  assert.deepEqual(new SettingsStore(storage, "/other").load(), DEFAULT_SETTINGS);
  mem.set("peervault:settings:/notes", '{"connection":"x","port":-1,"executable":""}');
  assert.deepEqual(a.load(), DEFAULT_SETTINGS);
  mem.set("peervault:settings:/notes", "{not json");
  assert.deepEqual(a.load(), DEFAULT_SETTINGS);
});
