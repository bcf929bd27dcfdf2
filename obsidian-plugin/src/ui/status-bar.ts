/**
 * The status bar item: fed by the event stream (EventHub), re-reading /status when an event
 * leaves counts unknown (debounced), when events were missed, and every 30 s. The reducer
 * (status-model.ts) decides what it says; notices are raised from the same transitions.
 */
import type { DaemonApi } from "../daemon/api";
import type { EventHub } from "../daemon/events";
import type { Status } from "../daemon/schema";
import { DaemonUnreachable } from "../daemon/types";
import { errorText } from "./format";
import { type Input, type Model, initialModel, label, reduce } from "./status-model";

export const REFRESH_EVERY_MS = 30_000;
const STALE_DEBOUNCE_MS = 800;

export type ModelListener = (prev: Model, next: Model) => void;

export class StatusController {
  model: Model = initialModel;
  private readonly listeners = new Set<ModelListener>();
  private readonly unsubscribe: (() => void)[] = [];
  private staleTimer: ReturnType<typeof setTimeout> | null = null;
  private interval: ReturnType<typeof setInterval> | null = null;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly daemon: DaemonApi,
    private readonly events: EventHub,
    private readonly el: HTMLElement | null,
  ) {}

  start(): void {
    this.unsubscribe.push(
      this.events.on("*", (event) => this.apply({ type: "event", event })),
      this.events.onMissed(() => void this.refresh()),
      this.events.onConnection((up, err) => {
        if (up) void this.refresh();
        else this.apply({ type: "unreachable", message: errorText(err) });
      }),
    );
    this.interval = setInterval(() => void this.refresh(), REFRESH_EVERY_MS);
    void this.refresh();
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.interval) clearInterval(this.interval);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.listeners.clear();
  }

  onChange(listener: ModelListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Read /status now (one read at a time: callers share the one in flight). */
  refresh(): Promise<void> {
    this.reading ??= this.daemon
      .get<Status>("/status")
      .then((status) => this.apply({ type: "status", status }))
      .catch((err: unknown) => {
        if (err instanceof DaemonUnreachable) this.apply({ type: "unreachable", message: err.message });
        else console.warn("PeerVault: /status failed", err);
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }

  apply(input: Input): void {
    const prev = this.model;
    const next = reduce(prev, input);
    if (next === prev) return;
    this.model = next;
    this.render();
    for (const l of [...this.listeners]) l(prev, next);
    if (next.stale && !this.staleTimer) {
      this.staleTimer = setTimeout(() => {
        this.staleTimer = null;
        void this.refresh();
      }, STALE_DEBOUNCE_MS);
    }
  }

  private render(): void {
    if (!this.el) return;
    const l = label(this.model);
    this.el.setText(l.text);
    this.el.setAttribute("aria-label", l.tooltip);
    this.el.setAttribute("data-tooltip-position", "top");
    this.el.className = `status-bar-item plugin-peervault peervault-status peervault-${l.kind} mod-clickable`;
  }
}
