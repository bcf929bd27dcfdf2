/** Deleted notes that can be restored (GET /deleted), each brought back with POST /restore. */
import { Modal, Notice, Setting } from "obsidian";

import type { DeletedRow, RestoreResult } from "../daemon/schema";
import type { Host } from "../host";
import { errorText, when } from "./format";

const SHOW = 200;

export class DeletedModal extends Modal {
  constructor(private readonly host: Host) {
    super(host.app);
  }

  override async onOpen(): Promise<void> {
    this.titleEl.setText("Restore deleted notes");
    const el = this.contentEl;
    let rows: DeletedRow[];
    try {
      rows = await this.host.daemon.get<DeletedRow[]>("/deleted");
    } catch (err) {
      el.createEl("p", { text: errorText(err), cls: "peervault-error" });
      return;
    }
    if (rows.length === 0) {
      el.createEl("p", { text: "No deleted file has a version kept on this device." });
      return;
    }
    const sorted = [...rows].sort((a, b) => (b.last_version_at ?? 0) - (a.last_version_at ?? 0)); // newest first
    for (const r of sorted.slice(0, SHOW)) {
      const row = new Setting(el).setName(r.path).setDesc(`last version ${when(r.last_version_at)}`);
      row.addButton((b) =>
        b.setButtonText("Restore").onClick(async () => {
          b.setDisabled(true);
          try {
            const res = await this.host.daemon.post<RestoreResult>("/restore", { path: r.path });
            new Notice(`PeerVault: restored ${res.path} (version ${res.version}).`);
            row.settingEl.remove();
          } catch (err) {
            b.setDisabled(false);
            new Notice(`PeerVault: ${errorText(err)}`);
          }
        }),
      );
    }
    if (rows.length > SHOW) el.createEl("p", { text: `… and ${rows.length - SHOW} more (peervault deleted).` });
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
