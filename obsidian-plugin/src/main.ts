/**
 * The PeerVault plugin: wires the daemon client, the event fan-out, the status bar, the
 * notices, the commands, the history view, the settings and the live co-editing binding.
 * Each lives in its own module; this file only builds and connects them.
 */
import { FileSystemAdapter, Notice, Plugin, type WorkspaceLeaf } from "obsidian";

import { registerCommands } from "./commands";
import { DaemonApi } from "./daemon/api";
import { EventHub } from "./daemon/events";
import { startDaemon } from "./daemon/launcher";
import { NodeTransport } from "./daemon/node-transport";
import type { Host } from "./host";
// --- live co-editing (src/live/, written separately): the binding gets the daemon and the events ---
import { LiveEditing } from "./live/editing";
import { type Settings, SettingsStore, targetOf } from "./settings";
import { errorText } from "./ui/format";
import { HISTORY_VIEW, HistoryView } from "./ui/history-view";
import { Notifier } from "./ui/notices";
import { PeerVaultSettingTab } from "./ui/settings-tab";
import { StatusController } from "./ui/status-bar";
import { StatusModal } from "./ui/status-modal";

export default class PeerVaultPlugin extends Plugin implements Host {
  /** The daemon's API, for every module and for the live binding. */
  daemon!: DaemonApi;
  /** The one /events loop, fanned out: `events.on("live_update", h)` returns the unsubscribe. */
  events!: EventHub;
  transport!: NodeTransport;
  declare settings: Settings; // Plugin declares `settings?: unknown` (1.13) for subclasses to type
  vaultPath!: string;
  status!: StatusController;
  private store!: SettingsStore;

  override async onload(): Promise<void> {
    const adapter = this.app.vault.adapter;
    if (!(adapter instanceof FileSystemAdapter)) {
      new Notice("PeerVault needs Obsidian on a desktop (a vault folder on disk).");
      return;
    }
    this.vaultPath = adapter.getBasePath();
    this.store = new SettingsStore(window.localStorage, this.vaultPath);
    this.settings = this.store.load();
    this.transport = new NodeTransport({ vault: this.vaultPath, target: targetOf(this.settings) });
    this.daemon = new DaemonApi(this.transport);
    this.events = new EventHub(this.daemon);

    const bar = this.addStatusBarItem();
    bar.addEventListener("click", () => new StatusModal(this).open());
    this.status = new StatusController(this.daemon, this.events, bar);
    this.register(this.status.onChange(new Notifier(this).onChange));

    registerCommands(this, this);
    this.registerView(HISTORY_VIEW, (leaf: WorkspaceLeaf) => new HistoryView(leaf, this));
    this.addSettingTab(new PeerVaultSettingTab(this.app, this, this));

    // --- live co-editing: LiveEditing(plugin, daemon, events) from src/live/editing.ts ---
    const live = new LiveEditing(this, this.daemon, this.events);
    this.registerEditorExtension(live.extension());
    this.register(() => live.unload());
    // --- end of live co-editing ---

    this.status.start();
    this.events.start();
    this.register(() => {
      this.events.stop();
      this.status.stop();
    });
  }

  saveSettings(): void {
    this.store.save(this.settings);
  }

  async startDaemon(): Promise<void> {
    const { executable } = this.settings;
    try {
      const pid = await startDaemon(executable, this.vaultPath, targetOf(this.settings));
      new Notice(`PeerVault: started \`${executable} run\` (pid ${pid}).`);
      setTimeout(() => this.events.retryNow(), 1000); // the socket appears within a second
    } catch (err) {
      new Notice(`PeerVault: ${errorText(err)}`, 0);
    }
  }

  async openHistory(): Promise<void> {
    const { workspace } = this.app;
    const file = workspace.getActiveFile(); // before the view takes the focus
    let leaf: WorkspaceLeaf | null = workspace.getLeavesOfType(HISTORY_VIEW)[0] ?? null;
    if (!leaf) {
      leaf = workspace.getRightLeaf(false);
      if (!leaf) return;
      await leaf.setViewState({ type: HISTORY_VIEW, active: true });
    }
    await workspace.revealLeaf(leaf);
    if (file && leaf.view instanceof HistoryView) await leaf.view.show(file);
  }
}
