/**
 * The plugin's settings. They describe this computer (where the daemon listens, where the
 * `peervault` executable is), and `.obsidian/` syncs to the other devices (README: only
 * workspace files and the cache stay per device), so they are kept in this computer's
 * localStorage, per vault folder, not in the plugin's data.json.
 */
import type { Target } from "./daemon/node-transport";

export interface Settings {
  /** "socket": VAULT/.peervault/control.sock; "tcp": 127.0.0.1:port with the vault's token. */
  connection: "socket" | "tcp";
  port: number;
  /** The `peervault` command the plugin may start (`peervault run VAULT`); a name on PATH or a full path. */
  executable: string;
}

export const DEFAULT_SETTINGS: Settings = { connection: "socket", port: 8384, executable: "peervault" };

export function targetOf(s: Settings): Target {
  return s.connection === "tcp" ? { kind: "tcp", port: s.port } : { kind: "socket" };
}

export function validPort(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < 65536;
}

type KeyValue = Pick<Storage, "getItem" | "setItem">;

export class SettingsStore {
  private readonly key: string;

  constructor(
    private readonly storage: KeyValue,
    vaultPath: string,
  ) {
    this.key = `peervault:settings:${vaultPath}`;
  }

  load(): Settings {
    let raw: Record<string, unknown> = {};
    try {
      raw = (JSON.parse(this.storage.getItem(this.key) ?? "{}") as Record<string, unknown>) ?? {};
    } catch {
      // unreadable: the defaults
    }
    return {
      connection: raw["connection"] === "tcp" ? "tcp" : "socket",
      port: validPort(raw["port"]) ? raw["port"] : DEFAULT_SETTINGS.port,
      executable: typeof raw["executable"] === "string" && raw["executable"].trim() ? raw["executable"] : DEFAULT_SETTINGS.executable,
    };
  }

  save(s: Settings): void {
    this.storage.setItem(this.key, JSON.stringify(s));
  }
}
