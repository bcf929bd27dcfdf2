/** The command palette's PeerVault commands; each is one call to the daemon and a notice. */
import { Notice, type Plugin } from "obsidian";

import type { Invite } from "./daemon/schema";
import type { Host } from "./host";
import { DeletedModal } from "./ui/deleted-modal";
import { DeletionsModal } from "./ui/deletions-modal";
import { errorText } from "./ui/format";
import { copyTicket } from "./ui/invite-panel";

async function say<T>(host: Host, work: () => Promise<T>, done: (res: T) => string): Promise<void> {
  try {
    new Notice(`PeerVault: ${done(await work())}`);
  } catch (err) {
    new Notice(`PeerVault: ${errorText(err)}`);
  }
  void host.status.refresh();
}

export function registerCommands(plugin: Plugin, host: Host): void {
  const d = host.daemon;
  plugin.addCommand({
    id: "sync-now",
    name: "Sync now",
    callback: () =>
      void say(host, () => d.post<{ dialling: string[] }>("/sync"), (r) => `syncing now with ${r.dialling.length} device(s).`),
  });
  plugin.addCommand({
    id: "pause",
    name: "Pause syncing",
    checkCallback: (checking) => {
      if (host.status.model.paused) return false;
      if (!checking) void say(host, () => d.post("/pause"), () => "sync paused; changes here are still recorded.");
      return true;
    },
  });
  plugin.addCommand({
    id: "resume",
    name: "Resume syncing",
    checkCallback: (checking) => {
      if (!host.status.model.paused) return false;
      if (!checking) void say(host, () => d.post("/resume"), () => "syncing again.");
      return true;
    },
  });
  plugin.addCommand({ id: "history", name: "Show this note's history", callback: () => void host.openHistory() });
  plugin.addCommand({ id: "restore-deleted", name: "Restore deleted notes", callback: () => new DeletedModal(host).open() });
  plugin.addCommand({ id: "held-deletions", name: "Review held deletions", callback: () => new DeletionsModal(host).open() });
  plugin.addCommand({
    id: "copy-invite",
    name: "Copy an invite for another device",
    callback: async () => {
      try {
        await copyTicket(await d.post<Invite>("/invite", {}));
      } catch (err) {
        new Notice(`PeerVault: ${errorText(err)}`);
      }
    },
  });
  plugin.addCommand({ id: "start-daemon", name: "Start the daemon (peervault run)", callback: () => void host.startDaemon() });
}
