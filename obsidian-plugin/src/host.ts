/**
 * What the UI modules need from the plugin, as an interface, so they do not import main.ts
 * (no cycles) and the tests can hand them a small fake.
 */
import type { App } from "obsidian";

import type { DaemonApi } from "./daemon/api";
import type { EventHub } from "./daemon/events";
import type { NodeTransport } from "./daemon/node-transport";
import type { Settings } from "./settings";
import type { StatusController } from "./ui/status-bar";

export interface Host {
  app: App;
  daemon: DaemonApi;
  events: EventHub;
  transport: NodeTransport;
  settings: Settings;
  /** The vault's folder on disk (Obsidian desktop's FileSystemAdapter base path). */
  vaultPath: string;
  status: StatusController;
  saveSettings(): void;
  /** Spawn `peervault run VAULT` with the configured executable, and say how it went. */
  startDaemon(): Promise<void>;
  openHistory(): Promise<void>;
}
