/**
 * Pairing tickets in the UI: tidy what the user pasted, and draw a ticket as a QR code
 * (qrcode-generator computes the modules; one SVG path draws them, so no HTML is parsed).
 */
import qrcode from "qrcode-generator";

/** What a ticket looks like: "pv1" and lowercase base32 (protocol/ticket.py; the daemon checks the rest). */
const TICKET = /^pv1[a-z2-7]{20,}$/;

/** The ticket in pasted text: whitespace and line breaks (from a chat or an email) removed. */
export function cleanTicket(pasted: string): string {
  return pasted.replace(/\s+/g, "").replace(/^["'`]+|["'`]+$/g, "").toLowerCase();
}

/** null when it looks like a ticket, else why not (before bothering the daemon). */
export function ticketProblem(ticket: string): string | null {
  if (ticket === "") return "paste the ticket that `peervault invite` (or Copy invite) gave on the other device";
  if (!ticket.startsWith("pv1")) return "a PeerVault ticket starts with “pv1”";
  if (!TICKET.test(ticket)) return "this is not a whole ticket: some characters are missing or wrong";
  return null;
}

export interface QrMatrix {
  size: number;
  dark: (row: number, col: number) => boolean;
}

/** The QR code of `text` (byte mode, medium error correction, the smallest version that fits). */
export function qrMatrix(text: string): QrMatrix {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  return { size: qr.getModuleCount(), dark: (r, c) => qr.isDark(r, c) };
}

/** An SVG path drawing the dark modules, one unit each, shifted by the quiet zone `margin`. */
export function qrPath(m: QrMatrix, margin = 4): string {
  const parts: string[] = [];
  for (let r = 0; r < m.size; r++) {
    let c = 0;
    while (c < m.size) {
      if (!m.dark(r, c)) {
        c++;
        continue;
      }
      const start = c;
      while (c < m.size && m.dark(r, c)) c++;
      parts.push(`M${start + margin} ${r + margin}h${c - start}v1h${start - c}z`); // one run of a row
    }
  }
  return parts.join("");
}

/** Side of the SVG's viewBox for a matrix with that quiet zone. */
export function qrViewBox(m: QrMatrix, margin = 4): string {
  const side = m.size + 2 * margin;
  return `0 0 ${side} ${side}`;
}

/** When a ticket stops working, as the user reads it ("until 14:05"). */
export function expiresText(expiresAt: number, now: number = Date.now() / 1000): string {
  const mins = Math.max(0, Math.round((expiresAt - now) / 60));
  const at = new Date(expiresAt * 1000);
  const hhmm = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  return `valid until ${hhmm} (${mins} min), for one device`;
}
