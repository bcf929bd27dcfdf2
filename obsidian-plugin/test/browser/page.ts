/**
 * The test page: a plain CodeMirror 6 editor (no Obsidian) driven by the plugin's own
 * LiveBinding, DaemonApi, EventHub and FetchTransport. The test calls `window.pv.open(...)`
 * with the daemon's port and token; nothing is typed in by hand.
 */
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { Cursor } from "loro-crdt";

import { DaemonApi } from "../../src/daemon/api";
import { EventHub } from "../../src/daemon/events";
import { FetchTransport } from "../../src/daemon/fetch-transport";
import { LiveBinding, liveSlot } from "../../src/live/binding";

interface OpenArgs {
  port: number;
  token: string;
  path: string;
  client: string;
  /** How long a note the daemon does not track may take to appear (the binding's default: 10 s). */
  notTrackedGraceMs?: number;
}

/** Wall-clock milliseconds every page of the browser agrees on (for cross-page latency). */
const clock = (): number => performance.timeOrigin + performance.now();

class Harness {
  view: EditorView | null = null;
  binding: LiveBinding | null = null;
  hub: EventHub | null = null;
  transport: FetchTransport | null = null;
  fallbacks: { path: string; reason: string }[] = [];
  /** (doc length, time) after every change, for the latency figure. */
  changes: { len: number; at: number; text: string }[] = [];
  recording = false;

  open(args: OpenArgs): void {
    this.close();
    this.transport = new FetchTransport({ port: args.port, token: args.token });
    const daemon = new DaemonApi(this.transport);
    this.hub = new EventHub(daemon, { minBackoffMs: 100, maxBackoffMs: 500 });
    this.hub.start();
    const parent = document.getElementById("editor");
    if (!parent) throw new Error("no #editor");
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: "",
        extensions: [
          liveSlot(),
          EditorView.lineWrapping,
          EditorView.updateListener.of((u) => {
            if (u.docChanged && this.recording) {
              const text = u.state.doc.toString();
              this.changes.push({ len: text.length, at: clock(), text });
            }
          }),
        ],
      }),
    });
    this.binding = new LiveBinding(this.view, {
      daemon,
      events: this.hub,
      path: args.path,
      client: args.client,
      onFallback: (path, reason) => this.fallbacks.push({ path, reason }),
      notTrackedGraceMs: args.notTrackedGraceMs,
    });
  }

  close(): void {
    this.binding?.close(false);
    this.hub?.stop();
    this.view?.destroy();
    this.view = this.binding = this.hub = this.transport = null;
  }

  text(): string {
    return this.view?.state.doc.toString() ?? "";
  }

  live(): boolean {
    return this.binding?.live ?? false;
  }

  /** Class names of what is drawn in the editor's layers (remote cursors, selections). */
  remoteCursors(): { cls: string; name: string }[] {
    return Array.from(document.querySelectorAll<HTMLElement>(".loro-cursor")).map((el) => ({
      cls: el.className,
      name: el.style.getPropertyValue("--name"),
    }));
  }

  /** Where, in this page's text, the other pages' cursors are (from the presence this binding holds). */
  remoteCursorOffsets(): number[] {
    const b = this.binding;
    if (!b) return [];
    const mine = `${b.doc.peerIdStr}-`;
    return Object.entries(b.presence.store.getAllStates())
      .filter(([key]) => key.endsWith("-cm-cursor") && !key.startsWith(mine))
      .map(([, value]) => b.doc.getCursorPos(Cursor.decode((value as { anchor: Uint8Array }).anchor))?.offset ?? -1);
  }

  /** Focus the editor with the cursor at `pos` (-1: the end); typing then uses real key events. */
  place(pos: number): void {
    if (!this.view) return;
    const at = pos < 0 ? this.view.state.doc.length : pos;
    this.view.focus();
    this.view.dispatch({ selection: { anchor: at } });
  }

  select(anchor: number, head: number): void {
    this.view?.focus();
    this.view?.dispatch({ selection: { anchor, head } });
  }

  /** The main selection (anchor, head). */
  selection(): [number, number] {
    const sel = this.view?.state.selection.main;
    return sel ? [sel.anchor, sel.head] : [-1, -1];
  }

  setToken(token: string): void {
    this.transport?.setToken(token);
  }

  startRecording(): void {
    this.changes = [];
    this.recording = true;
  }
}

declare global {
  interface Window {
    pv: Harness;
  }
}

window.pv = new Harness();
