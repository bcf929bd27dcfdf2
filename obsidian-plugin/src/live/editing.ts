/**
 * The Obsidian side of live co-editing, kept thin: find out which note each CodeMirror editor
 * shows (editorInfoField), give it a LiveBinding (binding.ts, where everything else lives),
 * let go when the editor closes or shows another note, and say so once if a note falls back
 * to plain editing.
 */
import type { Extension } from "@codemirror/state";
import { type EditorView, ViewPlugin } from "@codemirror/view";
import { Notice, type Plugin, TFile, editorInfoField } from "obsidian";

import type { DaemonApi } from "../daemon/api";
import type { EventHub } from "../daemon/events";
import { LiveBinding, liveSlot } from "./binding";

interface Bound {
  file: TFile;
  binding: LiveBinding;
}

export class LiveEditing {
  /** One id per plugin instance: the daemon's events from it are our own echo. */
  private readonly client = `obsidian-${crypto.randomUUID()}`;
  private readonly views = new Set<EditorView>();
  private readonly bound = new Map<EditorView, Bound>();
  private readonly noticed = new Set<string>();
  private readonly unsubs: (() => void)[] = [];
  private unloaded = false;

  constructor(
    readonly plugin: Plugin,
    readonly daemon: DaemonApi,
    readonly events: EventHub,
  ) {
    // The daemon came (back): bind the editors that opened while it was away.
    this.unsubs.push(events.onConnection((up) => up && this.checkAll()));
    plugin.registerEvent(plugin.app.vault.on("rename", () => this.checkAll()));
  }

  extension(): Extension {
    const live = this;
    return [
      liveSlot(),
      ViewPlugin.define((view) => {
        live.views.add(view);
        setTimeout(() => live.check(view), 0); // Obsidian sets the editor's file just after creating it
        return {
          update: (u) => live.check(u.view),
          destroy: () => live.removed(view),
        };
      }),
    ];
  }

  unload(): void {
    this.unloaded = true;
    for (const u of this.unsubs.splice(0)) u();
    for (const { binding } of this.bound.values()) binding.close(true);
    this.bound.clear();
    this.views.clear();
  }

  private checkAll(): void {
    for (const view of this.views) this.check(view);
  }

  private check(view: EditorView): void {
    if (this.unloaded || !this.views.has(view)) return;
    const file = fileOf(view);
    const cur = this.bound.get(view);
    if (cur && cur.file === file) {
      if (file.path !== cur.binding.path) cur.binding.rename(file.path);
      return; // bound, or fell back for this note: nothing to do until it shows another
    }
    if (cur) {
      cur.binding.close();
      this.bound.delete(view);
    }
    // No daemon: plain editing, quietly; the connection handler binds once it is back.
    if (!file || !this.events.connected) return;
    // Split panes of one note are kept in step by Obsidian itself: bind only one of them,
    // or each pane's copy of a keystroke would be sent as a separate edit.
    for (const b of this.bound.values()) if (b.file === file && !b.binding.stopped) return;
    const binding = new LiveBinding(view, {
      daemon: this.daemon,
      events: this.events,
      path: file.path,
      client: this.client,
      stillBound: () => fileOf(view) === file,
      onFallback: (path, reason) => this.fellBack(path, reason),
    });
    this.bound.set(view, { file, binding });
  }

  private removed(view: EditorView): void {
    this.views.delete(view);
    this.bound.get(view)?.binding.close(false); // the editor is going: nothing to detach
    this.bound.delete(view);
  }

  private fellBack(path: string, reason: string): void {
    console.warn(`PeerVault: live editing of ${path} stopped: ${reason}`);
    if (this.noticed.has(path) || this.unloaded) return;
    this.noticed.add(path);
    new Notice(`PeerVault: live co-editing is off for ${path}; edits still sync when saved. (${reason})`, 10_000);
  }
}

function fileOf(view: EditorView): TFile | null {
  const file = view.state.field(editorInfoField, false)?.file ?? null;
  return file instanceof TFile && file.extension === "md" ? file : null;
}
