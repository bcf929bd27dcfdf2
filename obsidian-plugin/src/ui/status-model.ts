/**
 * What the status bar shows, as a pure reducer: (model, /status or an event or an outage)
 * -> model, and model -> label. No Obsidian, no I/O, so it is unit-tested on its own
 * (test/status-model.test.ts). Events say what changed but not every count, so those that
 * move counts mark the model `stale` and the controller re-reads /status soon after.
 */
import type { FirstImport, Status } from "../daemon/schema";
import type { DaemonEvent } from "../daemon/types";

export interface Model {
  /** null until the daemon first answered or failed to. */
  reachable: boolean | null;
  unreachableReason: string | null;
  paused: boolean;
  /** A new vault's first import, while it runs (the daemon answers little else meanwhile). */
  importing: FirstImport | null;
  /** Local changes not yet sent, and binary files still being fetched. */
  pending: number;
  peersPaired: number;
  peersConnected: number;
  held: number;
  heldReason: string | null;
  heldPaths: string[];
  notSynced: { path: string; reason: string }[];
  /** `error` events since the user last opened the panel (newest last, at most MAX_ERRORS). */
  errors: string[];
  stale: boolean;
}

export type Input =
  | { type: "status"; status: Status }
  | { type: "event"; event: DaemonEvent }
  | { type: "unreachable"; message: string }
  | { type: "seen" }; // the user opened the panel: the errors were read

export const MAX_ERRORS = 5;

export const initialModel: Model = {
  reachable: null,
  unreachableReason: null,
  paused: false,
  importing: null,
  pending: 0,
  peersPaired: 0,
  peersConnected: 0,
  held: 0,
  heldReason: null,
  heldPaths: [],
  notSynced: [],
  errors: [],
  stale: false,
};

export function reduce(m: Model, input: Input): Model {
  switch (input.type) {
    case "status":
      return fromStatus(m, input.status);
    case "unreachable":
      return { ...m, reachable: false, unreachableReason: input.message, stale: false };
    case "seen":
      return m.errors.length ? { ...m, errors: [] } : m;
    case "event":
      return onEvent(m, input.event);
  }
}

function fromStatus(m: Model, s: Status): Model {
  const paired = s.peers.filter((p) => p.paired);
  return {
    ...m,
    reachable: s.daemon.running,
    unreachableReason: s.daemon.running ? null : "the daemon is not running",
    paused: s.daemon.paused,
    importing: s.daemon.first_import ?? null,
    pending: s.pending_changes + s.binary_transfers.wanted + s.binary_transfers.fetching,
    peersPaired: paired.length,
    peersConnected: paired.filter((p) => p.connected).length,
    held: s.held_deletions.count,
    heldReason: s.held_deletions.reason,
    heldPaths: s.held_deletions.paths,
    notSynced: s.not_synced,
    stale: false,
  };
}

function onEvent(m: Model, ev: DaemonEvent): Model {
  switch (ev.kind) {
    case "paused":
      return { ...m, paused: true };
    case "resumed":
      return { ...m, paused: false, stale: true };
    case "peer_connected":
      return { ...m, peersConnected: Math.min(m.peersConnected + 1, Math.max(m.peersPaired, 1)), stale: true };
    case "peer_lost":
      return { ...m, peersConnected: Math.max(m.peersConnected - 1, 0), stale: true };
    case "held_deletions":
      return { ...m, held: num(ev["count"], m.held), heldReason: str(ev["reason"]) ?? m.heldReason, stale: true };
    case "error": {
      const message = str(ev["message"]) ?? "an error (see the daemon's log)";
      return { ...m, errors: [...m.errors, message].slice(-MAX_ERRORS), stale: true };
    }
    case "local_change": {
      const paths = Array.isArray(ev["paths"]) ? ev["paths"].length : 1;
      return { ...m, pending: m.pending + paths, stale: true };
    }
    case "remote_change":
    case "merge":
      return { ...m, stale: true };
    case "first_import": {
      if (ev["done"] === true) return { ...m, importing: null, stale: true }; // the engine answers now: read it all
      return { ...m, importing: { files_done: num(ev["files_done"], 0), files_total: num(ev["files_total"], 0) } };
    }
    default:
      return m; // live_update, presence, ...: nothing the bar shows
  }
}

export type LabelKind =
  | "connecting"
  | "offline"
  | "importing"
  | "paused"
  | "held"
  | "error"
  | "syncing"
  | "waiting"
  | "synced";

export interface Label {
  kind: LabelKind;
  text: string;
  tooltip: string;
}

export function label(m: Model): Label {
  const devices = `${m.peersConnected} of ${m.peersPaired} device(s) connected`;
  if (m.reachable === null) return { kind: "connecting", text: "PeerVault …", tooltip: "Reaching the PeerVault daemon" };
  if (!m.reachable) return { kind: "offline", text: "PeerVault offline", tooltip: m.unreachableReason ?? "daemon not reachable" };
  if (m.importing) {
    const { files_done: done, files_total: total } = m.importing;
    const far = total ? `${Math.floor((100 * done) / total)} %` : "…";
    return {
      kind: "importing",
      text: `PeerVault importing ${far}`,
      tooltip: total
        ? `First import of this vault: ${done} of ${total} files. History and sync start once it has ended.`
        : "First import of this vault: looking at the folder. History and sync start once it has ended.",
    };
  }
  if (m.paused) return { kind: "paused", text: "PeerVault paused", tooltip: `Sync is paused; changes are still recorded. ${devices}` };
  if (m.held > 0) {
    const why = m.heldReason ? ` (${m.heldReason})` : "";
    return { kind: "held", text: `PeerVault: ${plural(m.held, "deletion")} held`, tooltip: `Held back${why}: review them` };
  }
  const problems = m.errors.length + m.notSynced.length;
  if (problems > 0) {
    const tip = m.errors.at(-1) ?? `${m.notSynced[0]?.path}: ${m.notSynced[0]?.reason}`;
    return { kind: "error", text: `PeerVault: ${plural(problems, "problem")}`, tooltip: tip };
  }
  if (m.pending > 0) {
    return m.peersConnected > 0
      ? { kind: "syncing", text: `PeerVault syncing ${m.pending}`, tooltip: devices }
      : { kind: "waiting", text: `PeerVault: ${m.pending} waiting`, tooltip: `No device connected to send to. ${devices}` };
  }
  return { kind: "synced", text: "PeerVault synced", tooltip: devices };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function num(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
