/**
 * A Transport over `fetch` to the daemon's loopback port, with the vault's token: for a web
 * page (the browser test harness), which has neither Node's http nor the Unix socket. The
 * page's origin must be in the vault's `api_origins`; the daemon answers CORS for it.
 */
import { DaemonUnreachable, type Transport } from "./types";

export interface FetchTransportOptions {
  port: number;
  token: string;
  host?: string;
  /** A plain request that takes longer has a stuck daemon behind it. */
  timeoutMs?: number;
  /** /events long-polls wait up to 25 s on the daemon's side: allow for that. */
  longPollTimeoutMs?: number;
}

export class FetchTransport implements Transport {
  private readonly base: string;
  private token: string;
  private readonly timeoutMs: number;
  private readonly longPollTimeoutMs: number;

  constructor(opts: FetchTransportOptions) {
    this.base = `http://${opts.host ?? "127.0.0.1"}:${opts.port}`;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.longPollTimeoutMs = opts.longPollTimeoutMs ?? 45_000;
  }

  setToken(token: string): void {
    this.token = token;
  }

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    const limit = AbortSignal.timeout(path.startsWith("/events") ? this.longPollTimeoutMs : this.timeoutMs);
    const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, limit]) : limit,
        cache: "no-store",
      });
    } catch (err) {
      if (signal?.aborted) throw err; // the caller cancelled: not the daemon's fault
      const why = limit.aborted ? "did not answer in time" : err instanceof Error ? err.message : String(err);
      throw new DaemonUnreachable(`cannot reach the PeerVault daemon at ${this.base}: ${why}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new DaemonUnreachable(`the PeerVault daemon at ${this.base} broke off its answer`);
    }
    const isJson = (res.headers.get("Content-Type") ?? "").startsWith("application/json");
    return { status: res.status, body: isJson && text ? parse(text) : text };
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
