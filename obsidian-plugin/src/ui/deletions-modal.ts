/**
 * Held deletions (the mass-deletion guard): the files gone here that the other devices
 * still have, and the two ways out, publish them or put the files back.
 */
import { Modal, Notice, Setting } from "obsidian";

import type { DeletionsResult, HeldDeletion } from "../daemon/schema";
import type { Host } from "../host";
import { confirm } from "./confirm";
import { errorText, when } from "./format";

const SHOW = 100;

export class DeletionsModal extends Modal {
  constructor(private readonly host: Host) {
    super(host.app);
  }

  override async onOpen(): Promise<void> {
    this.titleEl.setText("Held deletions");
    const el = this.contentEl;
    let rows: HeldDeletion[];
    try {
      rows = await this.host.daemon.get<HeldDeletion[]>("/deletions");
    } catch (err) {
      el.createEl("p", { text: errorText(err), cls: "peervault-error" });
      return;
    }
    if (rows.length === 0) {
      el.createEl("p", { text: "No deletions are held." });
      return;
    }
    el.createEl("p", {
      text: `${rows.length} file(s) were deleted here (${rows[0]!.reason}). Your other devices still have them.`,
    });
    const list = el.createEl("ul", { cls: "peervault-list" });
    for (const r of rows.slice(0, SHOW)) {
      const li = list.createEl("li");
      li.createSpan({ text: r.path, cls: "peervault-mono" });
      li.createSpan({ text: ` — held since ${when(r.held_at)}`, cls: "peervault-muted" });
    }
    if (rows.length > SHOW) el.createEl("p", { text: `… and ${rows.length - SHOW} more.` });
    new Setting(el)
      .addButton((b) => b.setButtonText("Put the files back").setCta().onClick(() => void this.act("restore", rows.length)))
      .addButton((b) => b.setButtonText("Delete them everywhere").setWarning().onClick(() => void this.act("apply", rows.length)));
  }

  private async act(action: "apply" | "restore", count: number): Promise<void> {
    if (action === "apply") {
      const ok = await confirm(
        this.app,
        "Delete everywhere?",
        `Your other devices will delete these ${count} file(s) too. Their history stays, so each can still be restored.`,
        "Delete everywhere",
        true,
      );
      if (!ok) return;
    }
    try {
      const res = await this.host.daemon.post<DeletionsResult>(`/deletions/${action}`);
      new Notice(
        action === "apply"
          ? `PeerVault: published ${res.done} deletion(s).`
          : `PeerVault: put back ${res.done} file(s) from this device's copy.`,
      );
      this.close();
      void this.host.status.refresh();
    } catch (err) {
      new Notice(`PeerVault: ${errorText(err)}`);
    }
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
