/**
 * The daemon's control API as the plugin sees it (docs/API.md, docs/openapi.json).
 * A Transport carries one HTTP request; the desktop plugin sends it over the vault's
 * Unix socket with Node's `http` (node-transport.ts), the browser harness with `fetch`
 * to the loopback port (fetch-transport.ts). Everything above is transport-agnostic.
 */

export interface Transport {
  /** One request; resolves with the status and the parsed JSON body (or text). */
  request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }>;
}

/** The JSON error every 4xx/5xx carries: {"error": {"code": CLASS, "message": ...}}. */
export class DaemonError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DaemonError";
  }
}

/** The daemon could not be reached at all (no socket, connection refused, timed out). */
export class DaemonUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DaemonUnreachable";
  }
}

/** One entry of the event ring (GET /events). `kind` names what happened. */
export interface DaemonEvent {
  id: number;
  kind: string;
  at: number;
  [field: string]: unknown;
}

/**
 * The live co-editing resources (the daemon's side: src/peervault/service/live.py).
 * Bytes travel base64-encoded. `client` is a random id per plugin instance (or page).
 *
 *   POST /live/open     {path, client}          -> {file_id, snapshot, device_id, device_name}
 *   POST /live/update   {path, client, update}  -> {applied}
 *   POST /live/presence {path, client, data}    -> {}
 *   POST /live/close    {path, client}          -> {}
 *
 * Events for an open note, on GET /events:
 *   {kind: "live_update", path, file_id, update, from}    a change made elsewhere
 *   {kind: "presence", path, file_id, data, from}          an EphemeralStore update
 * `from` is the client id or device id it came from: a client skips its own.
 * A binding lapses when its client makes no /live call for LIVE_LEASE_S (the plugin
 * renews it with /live/open every few seconds); the daemon then treats the note as
 * any other file again.
 */
export interface LiveOpen {
  file_id: string;
  snapshot: string;
  device_id: string;
  device_name: string;
}

export const LIVE_LEASE_S = 15;
