/**
 * One note open in one CodeMirror editor, bound live to the daemon's Loro document of it
 * (the /live contract in ../daemon/types.ts). The editor's changes become Loro updates the
 * daemon imports; changes made elsewhere arrive as `live_update` events and are imported here,
 * which loro-codemirror turns into editor changes; cursors travel as EphemeralStore bytes.
 *
 * Nothing typed is lost while the daemon is away: what the daemon is known to hold is a
 * version vector (`acked`), and every send is "all my ops beyond `acked`", so updates batch
 * themselves while a request is in flight and a failed one is simply sent again. After a
 * restart the daemon's own version (from a fresh /live/open snapshot) replaces `acked`, so
 * whatever it lost in the crash is sent again too.
 *
 * No "obsidian" import here: the browser tests drive this file with a plain EditorView.
 */
import { Compartment, StateEffect, type EditorState, type Extension } from "@codemirror/state";
import type { EditorView } from "@codemirror/view";
import { LoroEphemeralPlugin, LoroSyncPlugin } from "loro-codemirror";
import { LoroDoc, decodeImportBlobMeta, type LoroText, type VersionVector } from "loro-crdt";

import type { DaemonApi } from "../daemon/api";
import { DaemonError, type DaemonEvent, type LiveOpen } from "../daemon/types";
import { fromBase64, toBase64 } from "./base64";
import { editorGuards } from "./guards";
import { LivePresence } from "./presence";
import { colourClass, liveTheme } from "./theme";
import { hasBeyond, union } from "./versions";

const CONTENT = "content";
const getText = (d: LoroDoc): LoroText => d.getText(CONTENT);

/** What the binding needs of the plugin's EventHub (../daemon/events.ts satisfies it). */
export interface LiveEvents {
  on(kind: string, handler: (ev: DaemonEvent) => void): () => void;
  onMissed?(handler: () => void): () => void;
}

export interface BindingOptions {
  daemon: DaemonApi;
  events: LiveEvents;
  path: string;
  /** This plugin instance's (or page's) id: events with this `from` are our own echo. */
  client: string;
  /** Told once, when live editing of this note stopped for good; the editor stays a plain editor. */
  onFallback: (path: string, reason: string) => void;
  /** False once the editor shows another note (Obsidian reuses an editor across files). */
  stillBound?: (state: EditorState) => boolean;
  heartbeatMs?: number;
  /** Unreachable this long after having been live: give up. */
  giveUpMs?: number;
  /** A note the daemon does not track yet (just created, just renamed) gets this long. */
  notTrackedGraceMs?: number;
}

type Phase = "opening" | "live" | "reconnecting" | "stopped";

/** The slot the binding's extensions go into: in every editor's config, empty until bound. */
export const liveCompartment = new Compartment();

export function liveSlot(): Extension {
  return liveCompartment.of([]);
}

export class LiveBinding {
  readonly doc = new LoroDoc();
  readonly presence: LivePresence;
  path: string;
  fileId: string | null = null;
  deviceName = "";
  private phase: Phase = "opening";
  private acked: VersionVector | null = null; // what the daemon is known to hold
  private sending = false;
  private heartbeatBusy = false;
  private failingSince: number | null = null;
  private importing = false;
  private attached = false;
  private fellBack = false;
  private readonly base: string; // the editor's text when the binding began
  private early: DaemonEvent[] = []; // events that came before the snapshot
  private readonly unsubs: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly opts: Required<Omit<BindingOptions, "stillBound">> & Pick<BindingOptions, "stillBound">;

  constructor(
    readonly view: EditorView,
    opts: BindingOptions,
  ) {
    this.opts = { heartbeatMs: 5_000, giveUpMs: 60_000, notTrackedGraceMs: 10_000, ...opts };
    this.path = opts.path;
    this.base = view.state.doc.toString();
    this.presence = new LivePresence(this.doc, {
      send: (bytes) => this.opts.daemon.post("/live/presence", { path: this.path, client: this.opts.client, data: toBase64(bytes) }),
      canSend: () => this.phase === "live" && !this.sending,
      failed: (err) => this.failed(err),
    });
    // Listen before asking for the snapshot, so nothing made in between is missed.
    this.unsubs.push(
      opts.events.on("live_update", (ev) => this.onEvent(ev)),
      opts.events.on("presence", (ev) => this.onEvent(ev)),
    );
    if (opts.events.onMissed) this.unsubs.push(opts.events.onMissed(() => void this.heartbeat()));
    void this.start();
  }

  get live(): boolean {
    return this.phase === "live";
  }

  get stopped(): boolean {
    return this.phase === "stopped";
  }

  /** The note was renamed: later calls name it by its new path (events match by file id). */
  rename(path: string): void {
    this.path = path;
  }

  /** The editor went away or shows another note: let go of the note (no fallback notice). */
  close(detach = true): void {
    if (this.phase === "stopped") return;
    const wasOpen = this.fileId !== null;
    this.stop(detach);
    if (wasOpen) this.opts.daemon.post("/live/close", { path: this.path, client: this.opts.client }).catch(() => {});
  }

  // ------------------------------------------------------------------ opening
  private async start(): Promise<void> {
    const deadline = Date.now() + this.opts.notTrackedGraceMs;
    for (;;) {
      try {
        const res = await this.open();
        if (this.phase === "stopped") return;
        return this.establish(res);
      } catch (err) {
        if (this.phase === "stopped") return;
        if (isNotTracked(err) && Date.now() < deadline) {
          await sleep(1_000);
          if (this.stopped) return;
          continue;
        }
        return this.fallback(reasonOf(err));
      }
    }
  }

  private open(): Promise<LiveOpen> {
    return this.opts.daemon.post<LiveOpen>("/live/open", { path: this.path, client: this.opts.client });
  }

  private establish(res: LiveOpen): void {
    const snapshot = fromBase64(res.snapshot);
    try {
      this.doc.import(snapshot);
    } catch (err) {
      return this.fallback(`the daemon's copy of the note could not be read (a Loro version mismatch?): ${String(err)}`);
    }
    this.fileId = res.file_id;
    this.deviceName = res.device_name;
    this.acked = this.doc.oplogVersion();
    this.phase = "live";
    // Typed while the note was opening: keep it (as an edit on the daemon's text) rather than
    // let loro-codemirror replace the editor with the daemon's text.
    const editorText = this.view.state.doc.toString();
    const text = getText(this.doc);
    if (editorText !== this.base && editorText !== text.toString()) {
      text.update(editorText);
      this.doc.commit();
    }
    this.unsubs.push(this.doc.subscribeLocalUpdates(() => this.flush()));
    this.attach(res);
    // After attaching, so loro-codemirror sees what came meanwhile (its plugins only hear changes).
    for (const ev of this.early.splice(0)) this.onEvent(ev);
    this.presence.start();
    this.timer = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs);
    this.flush();
  }

  private attach(res: LiveOpen): void {
    const user = { name: res.device_name || "another device", colorClassName: colourClass(res.device_id) };
    const ext: Extension = [
      editorGuards({
        importing: () => this.importing,
        unbound: (state) => this.opts.stillBound !== undefined && !this.opts.stillBound(state),
        release: () => this.close(false),
        slot: liveCompartment,
      }),
      LoroSyncPlugin(this.doc, getText),
      LoroEphemeralPlugin(this.doc, this.presence.store, user, getText),
      liveTheme,
    ];
    const effect =
      liveCompartment.get(this.view.state) === undefined
        ? StateEffect.appendConfig.of(liveCompartment.of(ext))
        : liveCompartment.reconfigure(ext);
    this.view.dispatch({ effects: effect });
    this.attached = true;
    // loro-codemirror 0.3.3 skips the first view update after it starts when the texts were
    // already equal (its init flag stays set): spend that update on an empty transaction,
    // queued after its own start-up microtask, so the first keystroke is not the one skipped.
    void Promise.resolve().then(() => {
      if (this.attached) this.view.dispatch({});
    });
  }

  // ------------------------------------------------------------------ from elsewhere
  private onEvent(ev: DaemonEvent): void {
    if (ev.from === this.opts.client || this.phase === "stopped") return;
    if (this.fileId !== null ? ev.file_id !== this.fileId : ev.path !== this.path) return;
    if (this.phase === "opening") {
      this.early.push(ev);
      return;
    }
    if (ev.kind === "live_update" && typeof ev.update === "string") this.importRemote(fromBase64(ev.update));
    else if (ev.kind === "presence" && typeof ev.data === "string") this.presence.apply(fromBase64(ev.data));
  }

  private importRemote(bytes: Uint8Array): void {
    try {
      this.importing = true;
      this.doc.import(bytes);
    } catch (err) {
      console.warn("PeerVault: a live update could not be imported; re-reading the note", err);
      void this.heartbeat();
      return;
    } finally {
      this.importing = false;
    }
    // The daemon sent it, so the daemon holds it: never send it back.
    if (this.acked) this.acked = union(this.acked, decodeImportBlobMeta(bytes, false).partialEndVersionVector);
    this.presence.retryHeld();
  }

  // ------------------------------------------------------------------ to the daemon
  /** Send every op the daemon lacks, one request at a time; what comes meanwhile rides the next. */
  private flush(): void {
    if (this.phase !== "live" || this.sending || this.acked === null) return;
    const now = this.doc.oplogVersion();
    if (!hasBeyond(now, this.acked)) return this.presence.flush();
    const update = this.doc.export({ mode: "update", from: this.acked });
    this.sending = true;
    this.opts.daemon
      .post<{ applied: boolean }>("/live/update", { path: this.path, client: this.opts.client, update: toBase64(update) })
      .then(
        () => {
          this.sending = false;
          this.failingSince = null;
          if (this.acked) this.acked = union(this.acked, now);
          this.flush();
        },
        (err: unknown) => {
          this.sending = false;
          this.failed(err);
        },
      );
  }

  /** Renews the lease, catches up on anything missed, and re-sends what the daemon lacks. */
  private async heartbeat(): Promise<void> {
    if (this.phase !== "live" || this.heartbeatBusy) return;
    this.heartbeatBusy = true;
    try {
      const res = await this.open();
      if (this.phase === "live") this.resync(res);
    } catch (err) {
      this.failed(err);
    } finally {
      this.heartbeatBusy = false;
    }
    this.presence.refresh();
  }

  private resync(res: LiveOpen): void {
    if (res.file_id !== this.fileId) return this.fallback(`${this.path} is now another note (it was deleted or replaced)`);
    const snapshot = fromBase64(res.snapshot);
    const theirs = decodeImportBlobMeta(snapshot, false).partialEndVersionVector;
    if (hasBeyond(theirs, this.doc.oplogVersion())) {
      try {
        this.importing = true;
        this.doc.import(snapshot);
      } finally {
        this.importing = false;
      }
      this.presence.retryHeld();
    }
    // The daemon's own word on what it holds: anything of ours it lost is sent again.
    if (!this.sending) this.acked = theirs;
    this.flush();
  }

  // ------------------------------------------------------------------ failures
  private failed(err: unknown): void {
    if (this.phase !== "live") return; // already reconnecting (or stopped)
    if (isFatal(err)) return this.fallback(reasonOf(err));
    void this.reconnect();
  }

  /** The daemon went away (or restarted): open again until it answers, then catch it up. */
  private async reconnect(): Promise<void> {
    this.phase = "reconnecting";
    this.failingSince ??= Date.now();
    let wait = 250;
    while (this.phase === "reconnecting") {
      await sleep(wait);
      if (this.phase !== "reconnecting") return;
      try {
        const res = await this.open();
        if (this.phase !== "reconnecting") return;
        this.phase = "live";
        this.failingSince = null;
        this.resync(res);
        this.presence.refresh();
        return;
      } catch (err) {
        if (this.phase !== "reconnecting") return;
        const grace = isNotTracked(err) ? this.opts.notTrackedGraceMs : this.opts.giveUpMs;
        if (isFatal(err) || Date.now() - (this.failingSince ?? Date.now()) > grace) return this.fallback(reasonOf(err));
        wait = Math.min(wait * 2, 1_000);
      }
    }
  }

  private fallback(reason: string): void {
    if (this.fellBack) return;
    this.fellBack = true;
    this.stop(true);
    this.opts.onFallback(this.path, reason);
  }

  private stop(detach: boolean): void {
    this.phase = "stopped";
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unsubs.splice(0)) u();
    if (detach && this.attached) {
      this.attached = false;
      const drop = () => this.view.dispatch({ effects: liveCompartment.reconfigure([]) });
      try {
        drop();
      } catch {
        setTimeout(() => {
          try {
            drop();
          } catch {
            /* the editor is gone */
          }
        }, 0);
      }
    }
    this.attached = false;
    this.presence.destroy();
  }
}

function isNotTracked(err: unknown): boolean {
  return err instanceof DaemonError && err.status === 404;
}

/** Errors that retrying will not fix: the daemon said no (a 4xx other than "not tracked yet"). */
function isFatal(err: unknown): boolean {
  return err instanceof DaemonError && err.status >= 400 && err.status < 500 && err.status !== 404 && err.status !== 408;
}

function reasonOf(err: unknown): string {
  if (err instanceof DaemonError) return `the daemon refused (${err.status} ${err.code}): ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
