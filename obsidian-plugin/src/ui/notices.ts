/**
 * Notices for what needs the user: the daemon not running (with a button to start it),
 * deletions held back (with a button to review them), a note from another device that
 * cannot be written on this disk. notice-rules.ts decides when; this draws them.
 */
import { Notice } from "obsidian";

import type { Host } from "../host";
import { DeletionsModal } from "./deletions-modal";
import { type NoticeSpec, noticesFor } from "./notice-rules";
import type { Model } from "./status-model";

const STAY_MS = 0; // until dismissed: each of these asks for something

export class Notifier {
  private readonly announced = new Set<string>();
  private offline: Notice | null = null;

  constructor(private readonly host: Host) {}

  /** A StatusController listener. */
  readonly onChange = (prev: Model, next: Model): void => {
    if (next.reachable && this.offline) {
      this.offline.hide(); // it came back: the notice is stale
      this.offline = null;
    }
    for (const spec of noticesFor(prev, next, this.announced)) this.show(spec);
  };

  private show(spec: NoticeSpec): void {
    switch (spec.kind) {
      case "offline":
        this.offline = this.notice(`PeerVault: ${spec.message}.`, "Start peervault run", () => void this.host.startDaemon());
        return;
      case "held":
        this.notice(
          `PeerVault held back ${spec.count} deletion(s)${spec.reason ? ` (${spec.reason})` : ""}: your other devices keep those files until you decide.`,
          "Review",
          () => new DeletionsModal(this.host).open(),
        );
        return;
      case "not_here":
        new Notice(`PeerVault: “${spec.path}” from another device cannot be written here: ${spec.reason}`, 15_000);
        return;
    }
  }

  private notice(message: string, button: string, action: () => void): Notice {
    const frag = document.createDocumentFragment();
    const p = document.createElement("div");
    p.textContent = message;
    const b = document.createElement("button");
    b.textContent = button;
    b.className = "mod-cta peervault-notice-button";
    frag.append(p, b);
    const n = new Notice(frag, STAY_MS);
    b.addEventListener("click", (ev) => {
      ev.stopPropagation(); // a click on a notice dismisses it; the button acts first
      n.hide();
      action();
    });
    return n;
  }
}
