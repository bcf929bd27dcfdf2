/** Colours for other people's cursors: each device picks its class from its id, so it looks the same to everyone. */
import { EditorView } from "@codemirror/view";

const PALETTE = ["#d6336c", "#1c7ed6", "#2f9e44", "#e8590c", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];

export function colourClass(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `pv-live-c${h % PALETTE.length}`;
}

const rules: Record<string, Record<string, string>> = {};
PALETTE.forEach((colour, i) => {
  rules[`.loro-cursor.pv-live-c${i}`] = { backgroundColor: colour };
  rules[`.loro-cursor.pv-live-c${i}::before`] = { backgroundColor: colour, color: "#fff" };
  rules[`.loro-selection.pv-live-c${i}`] = { backgroundColor: colour };
});

export const liveTheme = EditorView.baseTheme(rules);
