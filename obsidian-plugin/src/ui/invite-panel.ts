/**
 * An invite shown to the user: the ticket as text (select, copy) and as a QR code to scan
 * from the other device's screen. The ticket is a secret for one hour: it is shown only
 * here, on request, never logged.
 */
import { Notice } from "obsidian";

import type { Invite } from "../daemon/schema";
import { expiresText, qrMatrix, qrPath, qrViewBox } from "./ticket";

const SVG_NS = "http://www.w3.org/2000/svg";

export function renderInvite(el: HTMLElement, invite: Invite): void {
  el.empty();
  el.addClass("peervault-invite");
  el.createEl("p", { text: `On the other device: PeerVault settings → Join, or \`peervault join VAULT TICKET\`. ${expiresText(invite.expires_at)}.` });
  const text = el.createEl("textarea", { cls: "peervault-ticket", attr: { readonly: "true", rows: "4", spellcheck: "false" } });
  text.value = invite.ticket;
  text.addEventListener("focus", () => text.select());
  const copy = el.createEl("button", { text: "Copy" });
  copy.addEventListener("click", () => void copyTicket(invite));
  el.appendChild(qrSvg(invite.ticket));
}

export function qrSvg(ticket: string): SVGSVGElement {
  const m = qrMatrix(ticket);
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", qrViewBox(m));
  svg.setAttribute("class", "peervault-qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code of the invite ticket");
  svg.setAttribute("shape-rendering", "crispEdges");
  const bg = document.createElementNS(SVG_NS, "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "#fff"); // a QR code needs light around dark in any theme
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", qrPath(m));
  path.setAttribute("fill", "#000");
  svg.append(bg, path);
  return svg;
}

export async function copyTicket(invite: Invite): Promise<void> {
  try {
    await navigator.clipboard.writeText(invite.ticket);
    new Notice(`PeerVault: invite copied, ${expiresText(invite.expires_at)}.`);
  } catch {
    new Notice("PeerVault: could not write to the clipboard; copy the ticket from PeerVault's settings.");
  }
}
