/**
 * Cursors and names of the people editing one note, as Loro EphemeralStore bytes: ours go to
 * the daemon one request at a time (after the text they point into), theirs are applied once
 * the text they point into has arrived.
 *
 * loro-codemirror sends a person's name only once, on their first keystroke or click, so an
 * editor that opens later would draw that person as "unknown". Each binding therefore says
 * "here" when it opens, and whoever hears a peer for the first time sends all its own state
 * again: names reach newcomers at once, and the exchange stops after one round.
 */
import { Cursor, EphemeralStore, type LoroDoc } from "loro-crdt";

const TIMEOUT_MS = 30_000; // Loro's default; the heartbeat refreshes our cursor long before
const HELD_MS = 5_000; // a cursor whose text has not arrived by then is dropped
const MAX_QUEUE = 50;
const HERE_KEY = "-pv-here";

export interface PresenceLink {
  /** Sends one EphemeralStore update to the daemon. */
  send(bytes: Uint8Array): Promise<unknown>;
  /** False while the binding is not live or a text update is on its way. */
  canSend(): boolean;
  failed(err: unknown): void;
}

export class LivePresence {
  readonly store = new EphemeralStore(TIMEOUT_MS);
  private queue: Uint8Array[] = [];
  private busy = false;
  private held: { bytes: Uint8Array; at: number }[] = [];
  private readonly heard = new Set<string>();
  private unsub: (() => void) | null = null;

  constructor(
    private readonly doc: LoroDoc,
    private readonly link: PresenceLink,
  ) {}

  /** Starts sending our own changes, beginning with "here". */
  start(): void {
    this.unsub = this.store.subscribeLocalUpdates((bytes) => this.enqueue(bytes));
    this.store.set(`${this.doc.peerIdStr}${HERE_KEY}`, Date.now());
  }

  private enqueue(bytes: Uint8Array): void {
    this.queue.push(bytes);
    if (this.queue.length > MAX_QUEUE) this.queue.shift();
    this.flush();
  }

  flush(): void {
    if (this.busy || !this.link.canSend()) return;
    const next = this.queue.shift();
    if (!next) return;
    this.busy = true;
    this.link.send(next).then(
      () => {
        this.busy = false;
        this.flush();
      },
      (err: unknown) => {
        this.busy = false;
        this.queue = []; // ephemeral: refresh() sends the current state once back
        this.link.failed(err);
      },
    );
  }

  /** Someone else's cursor or name; held back while it points into text not here yet. */
  apply(bytes: Uint8Array): void {
    const peers = this.peersIn(bytes);
    if (peers === null) {
      this.held.push({ bytes, at: Date.now() });
      return;
    }
    try {
      this.store.apply(bytes);
    } catch (err) {
      console.warn("PeerVault: a presence update could not be applied", err);
      return;
    }
    const newcomer = peers.some((p) => p !== this.doc.peerIdStr && !this.heard.has(p));
    for (const p of peers) this.heard.add(p);
    if (newcomer) this.refresh();
  }

  /** New text arrived: the cursors that waited for it may now resolve. */
  retryHeld(): void {
    if (this.held.length === 0) return;
    const now = Date.now();
    for (const h of this.held.splice(0).filter((h) => now - h.at < HELD_MS)) this.apply(h.bytes);
  }

  /** Sends all our own state again (after a reconnect, to a newcomer, and on every heartbeat). */
  refresh(): void {
    const mine = `${this.doc.peerIdStr}-`;
    for (const key of this.store.keys()) {
      if (!key.startsWith(mine)) continue;
      const value = this.store.get(key);
      if (value !== undefined) this.store.set(key, value);
    }
  }

  destroy(): void {
    this.unsub?.();
    this.unsub = null;
    this.queue = [];
    this.store.destroy();
  }

  /** The peers an update speaks for, or null if one of its cursors points into missing text. */
  private peersIn(bytes: Uint8Array): string[] | null {
    const scratch = new EphemeralStore(TIMEOUT_MS);
    try {
      scratch.apply(bytes);
      const peers: string[] = [];
      for (const [key, value] of Object.entries(scratch.getAllStates())) {
        peers.push(key.split("-")[0]);
        if (!key.endsWith("-cm-cursor") || typeof value !== "object" || value === null) continue;
        for (const part of [(value as { anchor?: unknown }).anchor, (value as { head?: unknown }).head]) {
          if (part instanceof Uint8Array && this.doc.getCursorPos(Cursor.decode(part)) === undefined) return null;
        }
      }
      return peers;
    } catch {
      return null;
    } finally {
      scratch.destroy();
    }
  }
}
