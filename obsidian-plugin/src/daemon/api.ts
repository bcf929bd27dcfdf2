import { DaemonError, type DaemonEvent, type Transport } from "./types";

const POLL_WAIT_S = 25;

/** The control API's resources over any Transport: JSON errors become DaemonError. */
export class DaemonApi {
  constructor(readonly transport: Transport) {}

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.transport.request(method, path, body, signal);
    if (res.status >= 400) {
      const err = (res.body as { error?: { code?: string; message?: string } } | null)?.error;
      throw new DaemonError(res.status, err?.code ?? "HTTP", err?.message ?? `HTTP ${res.status}`);
    }
    return res.body as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>("GET", path, undefined, signal);
  }

  post<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
    return this.call<T>("POST", path, body, signal);
  }

  /**
   * Follow the event ring by long-poll until `signal` aborts: each answer returns as soon
   * as one event exists, so an event reaches the handler one round trip after it happened.
   * `onMissed` is told when events were dropped before they were read (read status afresh).
   * `onReady` is told once the daemon answered the first request (EventHub: "connected").
   */
  async follow(
    onEvent: (ev: DaemonEvent) => void,
    signal: AbortSignal,
    onMissed: () => void = () => {},
    onReady: () => void = () => {},
  ): Promise<void> {
    let since = (await this.get<{ last_id: number }>(`/events?since=0&timeout=0`, signal)).last_id;
    onReady();
    while (!signal.aborted) {
      const got = await this.get<{ events: DaemonEvent[]; missed: boolean; last_id: number }>(
        `/events?since=${since}&timeout=${POLL_WAIT_S}`,
        signal,
      );
      if (got.missed) onMissed();
      for (const ev of got.events) {
        since = ev.id;
        onEvent(ev);
      }
      if (got.events.length === 0) since = Math.min(since, got.last_id);
    }
  }
}
