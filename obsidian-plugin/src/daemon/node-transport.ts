/**
 * A Transport over Node's `http` (Obsidian desktop runs plugins in Electron's renderer, which
 * has Node): to the vault's Unix socket by default, or to a loopback port with the vault's
 * token. Node's http sends no `Origin`, so the daemon's web-page guard does not apply.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";

import { DaemonUnreachable, type Transport } from "./types";

export type Target = { kind: "socket" } | { kind: "tcp"; port: number };

export interface NodeTransportOptions {
  /** The vault's folder: the socket and the token live in VAULT/.peervault/. */
  vault: string;
  target?: Target;
  /** A plain request that takes longer has a stuck daemon behind it. */
  timeoutMs?: number;
  /** /events long-polls wait up to 25 s on the daemon's side: allow for that. */
  longPollTimeoutMs?: number;
}

export const STATE_DIR = ".peervault";

export class NodeTransport implements Transport {
  private target: Target;
  private token: string | null = null; // read when first needed; never logged or shown
  readonly vault: string;
  private readonly timeoutMs: number;
  private readonly longPollTimeoutMs: number;

  constructor(opts: NodeTransportOptions) {
    this.vault = opts.vault;
    this.target = opts.target ?? { kind: "socket" };
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.longPollTimeoutMs = opts.longPollTimeoutMs ?? 45_000;
  }

  /** Switch socket / port (settings changed); the DaemonApi holding this transport stays. */
  configure(target: Target): void {
    this.target = target;
    this.token = null;
  }

  get socketPath(): string {
    return path.join(this.vault, STATE_DIR, "control.sock");
  }

  describe(): string {
    return this.target.kind === "socket" ? this.socketPath : `127.0.0.1:${this.target.port}`;
  }

  async request(method: string, urlPath: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    const res = await this.once(method, urlPath, body, signal);
    if (res.status === 401 && this.target.kind === "tcp" && this.token !== null) {
      this.token = null; // the daemon made a new token since we read it: read it again, once
      return this.once(method, urlPath, body, signal);
    }
    return res;
  }

  private readToken(): string {
    if (this.token === null) {
      const file = path.join(this.vault, STATE_DIR, "api-token");
      try {
        this.token = fs.readFileSync(file, "utf8").trim();
      } catch {
        throw new DaemonUnreachable(`no API token in ${file}: is \`peervault run\` serving this vault on a port?`);
      }
    }
    return this.token;
  }

  private once(method: string, urlPath: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
    const headers: Record<string, string> = { Accept: "application/json" };
    if (payload) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    const where: http.RequestOptions =
      this.target.kind === "socket"
        ? { socketPath: this.socketPath, host: "pv" }
        : { host: "127.0.0.1", port: this.target.port };
    if (this.target.kind === "tcp") headers["Authorization"] = `Bearer ${this.readToken()}`;
    const timeout = urlPath.startsWith("/events") ? this.longPollTimeoutMs : this.timeoutMs;
    const describe = this.describe();

    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const req = http.request({ ...where, method, path: urlPath, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new DaemonUnreachable(`the PeerVault daemon at ${describe} broke off: ${e.message}`)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: parse(Buffer.concat(chunks).toString("utf8")) }));
      });
      const onAbort = () => req.destroy(abortError());
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.setTimeout(timeout, () =>
        req.destroy(new DaemonUnreachable(`the PeerVault daemon at ${describe} did not answer within ${timeout / 1000} s`)),
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e instanceof DaemonUnreachable || e.name === "AbortError") return reject(e);
        reject(new DaemonUnreachable(unreachableMessage(e, describe)));
      });
      req.end(payload);
    });
  }
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text; // /metrics is text; anything else unparsable is passed on as it came
  }
}

function abortError(): Error {
  const e = new Error("the request was cancelled");
  e.name = "AbortError";
  return e;
}

function unreachableMessage(e: NodeJS.ErrnoException, where: string): string {
  switch (e.code) {
    case "ENOENT":
    case "ECONNREFUSED":
      return `the PeerVault daemon is not running for this vault (nothing listens at ${where}); start it with \`peervault run\``;
    case "EACCES":
      return `not allowed to reach the PeerVault daemon at ${where} (the socket belongs to another user)`;
    case "ECONNRESET":
      return `the PeerVault daemon at ${where} closed the connection (it may be stopping or restarting)`;
    default:
      return `cannot reach the PeerVault daemon at ${where}: ${e.message}`;
  }
}
