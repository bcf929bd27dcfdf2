// The control API from the page: same origin, authenticated by the session cookie the
// login link set (the page never holds the API token). Errors carry the daemon's message.
// Every vault's routes are under /vaults/ID/ (the daemon's API of every vault); `useVault`
// chooses the vault that `api` and `watchEvents` speak to, `apiRoot` reaches /vaults itself.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let prefix = "";

export function useVault(id) {
  prefix = id ? `/vaults/${encodeURIComponent(id)}` : "";
}

export async function apiRoot(method, path, params) {
  const init = { method, credentials: "same-origin", headers: {} };
  let url = path;
  if (method === "GET" && params) {
    url += "?" + new URLSearchParams(params);
  } else if (params) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(params);
  }
  const response = await fetch(url, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? `the daemon answered ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return body;
}

export function api(method, path, params) {
  return apiRoot(method, prefix + path, params);
}

// The chosen vault's events as they happen (Server-Sent Events): `onEvent` gets each one,
// `onState` "live", "reconnecting" or "missed" (events were dropped: read afresh).
export function watchEvents(onEvent, onState) {
  const source = new EventSource(`${prefix}/events`);
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("error", () => onState("reconnecting"));
  source.addEventListener("missed", () => onState("missed"));
  source.onmessage = null;
  const kinds = ["local_change", "remote_change", "merge", "peer_connected", "peer_lost",
    "held_deletions", "error", "paused", "resumed", "live_update", "first_import"];
  for (const kind of kinds) {
    // "error" is also the EventSource's own event for a lost connection, which has no data
    source.addEventListener(kind, (message) => message.data && onEvent(JSON.parse(message.data)));
  }
  return source;
}
