/**
 * PeerVault's settings: how to reach the daemon, the executable to start it with, this
 * device, the paired devices (remove one, after naming it in a confirmation), an invite
 * (text and QR code) and a field to join another device's vault with its ticket.
 */
import { hostname } from "os";

import { type App, Notice, type Plugin, PluginSettingTab, Setting } from "obsidian";

import type { Invite, JoinResult, PeerRow, Status } from "../daemon/schema";
import type { Host } from "../host";
import { targetOf, validPort } from "../settings";
import { confirm } from "./confirm";
import { errorText, shortId, when } from "./format";
import { renderInvite } from "./invite-panel";
import { cleanTicket, ticketProblem } from "./ticket";

export class PeerVaultSettingTab extends PluginSettingTab {
  constructor(
    app: App,
    plugin: Plugin,
    private readonly host: Host,
  ) {
    super(app, plugin);
  }

  override display(): void {
    const el = this.containerEl;
    el.empty();
    this.connection(el);
    void this.device(el.createDiv());
  }

  private connection(el: HTMLElement): void {
    const s = this.host.settings;
    new Setting(el).setName("Daemon").setHeading();
    new Setting(el)
      .setName("Connect through")
      .setDesc("The vault's socket (.peervault/control.sock) needs nothing else; a port needs `peervault run VAULT --api 127.0.0.1:PORT` (the token is read from .peervault/api-token).")
      .addDropdown((d) =>
        d
          .addOption("socket", "Unix socket")
          .addOption("tcp", "Loopback port")
          .setValue(s.connection)
          .onChange((v) => {
            s.connection = v === "tcp" ? "tcp" : "socket";
            this.apply();
            this.display();
          }),
      );
    if (s.connection === "tcp") {
      new Setting(el).setName("Port").addText((t) =>
        t.setValue(String(s.port)).onChange((v) => {
          const port = Number(v);
          if (!validPort(port)) return;
          s.port = port;
          this.apply();
        }),
      );
    }
    new Setting(el)
      .setName("peervault executable")
      .setDesc("Used to start `peervault run` for this vault when the daemon is not running: a command on PATH or a full path.")
      .addText((t) =>
        t.setValue(s.executable).onChange((v) => {
          s.executable = v.trim() || "peervault";
          this.host.saveSettings();
        }),
      );
  }

  private apply(): void {
    this.host.saveSettings();
    this.host.transport.configure(targetOf(this.host.settings));
    this.host.events.retryNow();
    void this.host.status.refresh();
  }

  private async device(el: HTMLElement): Promise<void> {
    let status: Status;
    let peers: PeerRow[];
    try {
      [status, peers] = await Promise.all([this.host.daemon.get<Status>("/status"), this.host.daemon.get<PeerRow[]>("/peers")]);
    } catch (err) {
      new Setting(el)
        .setName("The daemon is not reachable")
        .setDesc(errorText(err))
        .addButton((b) => b.setButtonText("Start peervault run").onClick(() => void this.host.startDaemon().then(() => this.display())));
      return;
    }
    new Setting(el).setName("This device").setHeading();
    new Setting(el).setName("Name").setDesc(status.device_name ?? hostname());
    new Setting(el).setName("Device id").setDesc(status.device_id).descEl.addClass("peervault-mono");
    new Setting(el).setName("Paired devices").setHeading();
    if (peers.length === 0) el.createEl("p", { text: "None yet.", cls: "peervault-muted" });
    for (const p of peers) this.peer(el, p);
    this.invite(el);
    this.join(el);
  }

  private peer(el: HTMLElement, p: PeerRow): void {
    const state = !p.paired ? "pairing" : p.connected ? "connected" : `last seen ${when(p.last_seen)}`;
    new Setting(el)
      .setName(shortId(p.id))
      .setDesc(`${state}${p.addrs.length ? ` · ${p.addrs.join(", ")}` : ""}`)
      .addButton((b) =>
        b
          .setButtonText("Remove")
          .setWarning()
          .onClick(async () => {
            const ok = await confirm(
              this.app,
              `Remove device ${shortId(p.id)}?`,
              `Device ${p.id} will be refused from now on, by your other devices too. It keeps its copy of the notes; to sync it again, pair it with a new invite.`,
              `Remove ${shortId(p.id)}`,
              true,
            );
            if (!ok) return;
            try {
              await this.host.daemon.call("DELETE", `/peers/${encodeURIComponent(p.id)}`);
              new Notice(`PeerVault: removed device ${shortId(p.id)}.`);
            } catch (err) {
              new Notice(`PeerVault: ${errorText(err)}`);
            }
            this.display();
          }),
      );
  }

  private invite(el: HTMLElement): void {
    new Setting(el).setName("Invite a device").setHeading();
    const panel = el.createDiv();
    new Setting(el.createDiv())
      .setDesc("A one-time ticket, valid for an hour, for one device to join this vault.")
      .addButton((b) =>
        b.setButtonText("Create invite").onClick(async () => {
          try {
            renderInvite(panel, await this.host.daemon.post<Invite>("/invite", {}));
          } catch (err) {
            new Notice(`PeerVault: ${errorText(err)}`);
          }
        }),
      );
    el.appendChild(panel);
  }

  private join(el: HTMLElement): void {
    new Setting(el).setName("Join another device's vault").setHeading();
    let ticket = "";
    new Setting(el)
      .setName("Ticket")
      .setDesc("Paste the ticket from the other device. A vault never paired before takes the other vault's identity; its notes are kept and merged.")
      .addText((t) => t.setPlaceholder("pv1…").onChange((v) => (ticket = cleanTicket(v))))
      .addButton((b) =>
        b
          .setButtonText("Join")
          .setCta()
          .onClick(async () => {
            const problem = ticketProblem(ticket);
            if (problem) return void new Notice(`PeerVault: ${problem}`);
            try {
              const res = await this.host.daemon.post<JoinResult>("/join", { ticket });
              new Notice(
                `PeerVault: pairing with ${shortId(res.device)}${res.restarting ? "; the daemon restarts to take this vault's identity" : ""}.`,
              );
            } catch (err) {
              new Notice(`PeerVault: ${errorText(err)}`);
            }
          }),
      );
  }
}
