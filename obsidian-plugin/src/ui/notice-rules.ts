/**
 * Which notices a change of the status model deserves, as a pure function: once per
 * outage, once when deletions start being held, once per note that cannot be written here
 * (again only if it recovers and fails anew). Kept apart from Obsidian to be unit-tested.
 */
import { NOT_HERE } from "../daemon/schema";
import type { Model } from "./status-model";

export type NoticeSpec =
  | { kind: "offline"; message: string }
  | { kind: "held"; count: number; reason: string | null }
  | { kind: "not_here"; path: string; reason: string };

/** `shown` remembers the notes already announced; it is updated in place. */
export function noticesFor(prev: Model, next: Model, shown: Set<string>): NoticeSpec[] {
  const out: NoticeSpec[] = [];
  if (next.reachable === false && prev.reachable !== false) {
    out.push({ kind: "offline", message: next.unreachableReason ?? "the PeerVault daemon is not reachable" });
  }
  if (next.held > 0 && prev.held === 0) out.push({ kind: "held", count: next.held, reason: next.heldReason });
  if (next.reachable) {
    const now = new Set<string>();
    for (const { path, reason } of next.notSynced) {
      if (!reason.startsWith(NOT_HERE)) continue;
      now.add(path);
      if (!shown.has(path)) out.push({ kind: "not_here", path, reason: reason.slice(NOT_HERE.length) });
    }
    for (const p of [...shown]) if (!now.has(p)) shown.delete(p);
    for (const p of now) shown.add(p);
  }
  return out;
}
