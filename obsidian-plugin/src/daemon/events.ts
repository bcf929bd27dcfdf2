/**
 * One long-poll loop on the daemon's /events, fanned out to every part of the plugin (the
 * status bar, the notices, the live co-editing binding). When the daemon goes away the loop
 * waits and starts again, backing off up to `maxBackoffMs`; on return, listeners are told
 * events may have been missed, so they read /status afresh.
 */
import type { DaemonApi } from "./api";
import type { DaemonEvent } from "./types";

export type EventHandler = (ev: DaemonEvent) => void;
/** `up` false carries the error that took the daemon away (DaemonUnreachable, mostly). */
export type ConnectionHandler = (up: boolean, error?: unknown) => void;

export interface EventHubOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class EventHub {
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly missedHandlers = new Set<() => void>();
  private readonly connectionHandlers = new Set<ConnectionHandler>();
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private up: boolean | null = null; // null: not known yet
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly daemon: DaemonApi,
    opts: EventHubOptions = {},
  ) {
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  }

  /** Subscribe to one kind ("live_update", "paused", ...) or "*" for all; returns the unsubscribe. */
  on(kind: string, handler: EventHandler): () => void {
    let set = this.handlers.get(kind);
    if (!set) this.handlers.set(kind, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** Told when events were dropped (the ring overflowed, the daemon restarted or came back). */
  onMissed(handler: () => void): () => void {
    this.missedHandlers.add(handler);
    return () => void this.missedHandlers.delete(handler);
  }

  onConnection(handler: ConnectionHandler): () => void {
    this.connectionHandlers.add(handler);
    return () => void this.connectionHandlers.delete(handler);
  }

  get connected(): boolean {
    return this.up === true;
  }

  get running(): boolean {
    return this.abort !== null;
  }

  start(): void {
    if (this.abort) return;
    const abort = (this.abort = new AbortController());
    void this.loop(abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = null;
    this.wake?.();
  }

  /** Try again now instead of at the end of the back-off (the user started the daemon). */
  retryNow(): void {
    this.wake?.();
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let backoff = this.minBackoffMs;
    while (!signal.aborted) {
      try {
        await this.daemon.follow(
          (ev) => this.dispatch(ev),
          signal,
          () => this.fireMissed(),
          () => {
            backoff = this.minBackoffMs;
            this.setUp(true);
          },
        );
      } catch (err) {
        if (signal.aborted) break;
        this.setUp(false, err);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  private setUp(up: boolean, error?: unknown): void {
    const was = this.up;
    this.up = up;
    if (up && was === false) this.fireMissed(); // whatever happened while away is unknown
    if (up !== was) for (const h of [...this.connectionHandlers]) safely(() => h(up, error));
  }

  private dispatch(ev: DaemonEvent): void {
    for (const kind of [ev.kind, "*"]) {
      for (const h of [...(this.handlers.get(kind) ?? [])]) safely(() => h(ev));
    }
  }

  private fireMissed(): void {
    for (const h of [...this.missedHandlers]) safely(h);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}

/** One listener's bug must not stop the others, nor the loop. */
function safely(f: () => void): void {
  try {
    f();
  } catch (err) {
    console.error("PeerVault: an event handler failed", err);
  }
}
