/**
 * The history of the active note, in a side pane: its versions kept on this device (time,
 * device, size), each with a line diff against the current text and a restore button. A
 * restore is a new edit that every device gets, so it is confirmed first.
 */
import { ItemView, Notice, Setting, type TFile, type WorkspaceLeaf } from "obsidian";

import type { HistoryEntry, RestoreResult, VersionText } from "../daemon/schema";
import { DaemonError } from "../daemon/types";
import type { Host } from "../host";
import { confirm } from "./confirm";
import { hunks, lineDiff, summary } from "./diff";
import { bytes, deviceLabel, errorText, when } from "./format";

export const HISTORY_VIEW = "peervault-history";

export class HistoryView extends ItemView {
  private file: TFile | null = null;
  private generation = 0; // a newer render discards the answers of an older one

  constructor(
    leaf: WorkspaceLeaf,
    private readonly host: Host,
  ) {
    super(leaf);
  }

  override getViewType(): string {
    return HISTORY_VIEW;
  }

  override getDisplayText(): string {
    return this.file ? `History: ${this.file.basename}` : "PeerVault history";
  }

  override getIcon(): string {
    return "history";
  }

  override async onOpen(): Promise<void> {
    this.registerEvent(this.app.workspace.on("file-open", (f) => f && void this.show(f)));
    this.registerEvent(this.app.vault.on("modify", (f) => f === this.file && void this.show(f as TFile)));
    const active = this.app.workspace.getActiveFile();
    if (active) await this.show(active);
    else this.contentEl.setText("Open a note to see its history.");
  }

  async show(file: TFile): Promise<void> {
    this.file = file;
    const gen = ++this.generation;
    const el = this.contentEl;
    let versions: HistoryEntry[];
    try {
      versions = await this.host.daemon.get<HistoryEntry[]>(`/history?path=${encodeURIComponent(file.path)}`);
    } catch (err) {
      if (gen !== this.generation) return;
      el.empty();
      el.createEl("h4", { text: file.path });
      const none = err instanceof DaemonError && err.status === 404;
      el.createEl("p", { text: none ? "No version of this note is kept on this device yet." : errorText(err), cls: "peervault-muted" });
      return;
    }
    if (gen !== this.generation) return;
    el.empty();
    el.addClass("peervault-history");
    el.createEl("h4", { text: file.path });
    for (const v of [...versions].reverse()) this.renderVersion(el.createDiv({ cls: "peervault-version" }), file, v);
  }

  private renderVersion(box: HTMLElement, file: TFile, v: HistoryEntry): void {
    const row = new Setting(box)
      .setName(`${when(v.at)} · ${deviceLabel(v.device)}`)
      .setDesc(`version ${v.version} · ${bytes(v.size)}${v.change ? ` · ${v.change}` : ""}`);
    const diffEl = box.createDiv({ cls: "peervault-diff" });
    row.addButton((b) =>
      b.setButtonText("Diff").onClick(async () => {
        if (diffEl.childElementCount) return void diffEl.empty(); // a second click folds it
        await this.renderDiff(diffEl, file, v.version);
      }),
    );
    row.addButton((b) => b.setButtonText("Restore").onClick(() => void this.restore(file, v)));
  }

  private async renderDiff(el: HTMLElement, file: TFile, n: number): Promise<void> {
    try {
      const [old, current] = await Promise.all([
        this.host.daemon.get<VersionText>(`/history/version?path=${encodeURIComponent(file.path)}&n=${n}`),
        this.app.vault.cachedRead(file),
      ]);
      el.empty();
      if (old.text === null) {
        el.createEl("p", { text: `A binary version (blob ${old.blob?.slice(0, 12) ?? "?"}).`, cls: "peervault-muted" });
        return;
      }
      const diff = lineDiff(old.text, current);
      const { added, removed } = summary(diff);
      if (added + removed === 0) {
        el.createEl("p", { text: "Same text as the note now.", cls: "peervault-muted" });
        return;
      }
      el.createEl("p", { text: `To the note now: +${added} −${removed} lines`, cls: "peervault-muted" });
      const pre = el.createEl("pre", { cls: "peervault-diff-lines" });
      for (const h of hunks(diff)) {
        if (h.skipped) pre.createDiv({ text: `… ${h.skipped} unchanged line(s)`, cls: "peervault-diff-skip" });
        for (const line of h.lines) {
          const cls = line.op === "+" ? "peervault-diff-add" : line.op === "-" ? "peervault-diff-del" : "peervault-diff-same";
          pre.createDiv({ text: `${line.op} ${line.text}`, cls });
        }
      }
    } catch (err) {
      el.setText(errorText(err));
    }
  }

  private async restore(file: TFile, v: HistoryEntry): Promise<void> {
    const ok = await confirm(
      this.app,
      "Restore this version?",
      `“${file.path}” becomes the text of ${when(v.at)} (version ${v.version}), on every device. The text now stays in the history.`,
      "Restore",
    );
    if (!ok) return;
    try {
      const res = await this.host.daemon.post<RestoreResult>("/restore", { path: file.path, at: v.version });
      new Notice(`PeerVault: restored ${res.path} to version ${res.version}.`);
    } catch (err) {
      new Notice(`PeerVault: ${errorText(err)}`);
    }
  }
}
