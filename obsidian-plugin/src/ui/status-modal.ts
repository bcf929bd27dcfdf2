/**
 * The panel the status bar opens: the devices (connected, last seen) and the files that are
 * not synced, with the daemon's reason for each (GET /peers, GET /files?state=...).
 */
import { Modal, Setting } from "obsidian";

import type { FilesPage, PeerRow } from "../daemon/schema";
import type { Host } from "../host";
import { DeletionsModal } from "./deletions-modal";
import { errorText, shortId, when } from "./format";
import { label } from "./status-model";

const SHOW_FILES = 200;

export class StatusModal extends Modal {
  constructor(private readonly host: Host) {
    super(host.app);
  }

  override async onOpen(): Promise<void> {
    this.titleEl.setText("PeerVault");
    const { contentEl: el } = this;
    const model = this.host.status.model;
    el.addClass("peervault-status-modal");
    el.createEl("p", { text: label(model).tooltip, cls: "peervault-muted" });
    for (const msg of model.errors) el.createEl("p", { text: msg, cls: "peervault-error" });
    this.host.status.apply({ type: "seen" });
    if (model.reachable === false) {
      new Setting(el)
        .setName("The daemon is not running")
        .setDesc(`Start \`${this.host.settings.executable} run\` for this vault.`)
        .addButton((b) => b.setButtonText("Start").setCta().onClick(() => void this.host.startDaemon().then(() => this.close())));
      return;
    }
    if (model.held > 0) {
      new Setting(el)
        .setName(`${model.held} deletion(s) held back`)
        .setDesc(model.heldReason ?? "")
        .addButton((b) => b.setButtonText("Review").onClick(() => new DeletionsModal(this.host).open()));
    }
    try {
      const [peers, notSynced, held] = await Promise.all([
        this.host.daemon.get<PeerRow[]>("/peers"),
        this.host.daemon.get<FilesPage>(`/files?state=not_synced&limit=${SHOW_FILES}`),
        this.host.daemon.get<FilesPage>(`/files?state=unpublished&limit=0`),
      ]);
      this.renderPeers(peers);
      this.renderFiles(notSynced, held.total);
    } catch (err) {
      el.createEl("p", { text: errorText(err), cls: "peervault-error" });
    }
  }

  private renderPeers(peers: PeerRow[]): void {
    const el = this.contentEl;
    el.createEl("h3", { text: "Devices" });
    if (peers.length === 0) {
      el.createEl("p", { text: "No paired device yet: create an invite in PeerVault's settings.", cls: "peervault-muted" });
      return;
    }
    const list = el.createEl("ul", { cls: "peervault-list" });
    for (const p of peers) {
      const li = list.createEl("li");
      li.createSpan({ text: shortId(p.id), cls: "peervault-mono" });
      const state = !p.paired ? "pairing" : p.connected ? (p.state ?? "connected") : `last seen ${when(p.last_seen)}`;
      li.createSpan({ text: ` ${p.connected ? "●" : "○"} ${state}`, cls: p.connected ? "peervault-ok" : "peervault-muted" });
      if (p.removed_this_device) li.createSpan({ text: " (removed this device)", cls: "peervault-error" });
    }
  }

  private renderFiles(page: FilesPage, unpublished: number): void {
    const el = this.contentEl;
    el.createEl("h3", { text: "Files not synced" });
    if (unpublished > 0) el.createEl("p", { text: `${unpublished} file(s) recorded here, not yet sent.`, cls: "peervault-muted" });
    if (page.total === 0) {
      el.createEl("p", { text: "None: every file is synced.", cls: "peervault-muted" });
      return;
    }
    const list = el.createEl("ul", { cls: "peervault-list" });
    for (const f of page.files) {
      const li = list.createEl("li");
      li.createSpan({ text: f.path, cls: "peervault-mono" });
      li.createSpan({ text: ` — ${f.reason ?? f.state.replace("_", " ")}`, cls: "peervault-muted" });
    }
    if (page.total > page.files.length) el.createEl("p", { text: `… and ${page.total - page.files.length} more (peervault files).` });
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
