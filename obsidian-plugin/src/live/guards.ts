/**
 * CodeMirror-level safety around loro-codemirror's plugins: an editor that now shows another
 * note drops them in that very transaction (before they could turn the new note's text into
 * edits of this one); imported changes stay out of the undo history (Ctrl-Z undoes only your
 * own typing); and a whole-text replacement nobody typed (a reload from disk, another plugin's
 * setValue) becomes the smallest change, so it does not delete and re-insert everyone's text.
 */
import { type Compartment, EditorState, type Extension, Transaction } from "@codemirror/state";

export interface GuardHooks {
  /** True while the binding imports others' changes into the editor. */
  importing(): boolean;
  /** True if the editor, in this state, no longer shows the bound note. */
  unbound(state: EditorState): boolean;
  /** Let go of the note (called once the transaction is done). */
  release(): void;
  /** The compartment the live plugins sit in. */
  slot: Compartment;
}

export function editorGuards(hooks: GuardHooks): Extension {
  return [
    EditorState.transactionExtender.of((tr) => {
      if (hooks.importing()) return { annotations: Transaction.addToHistory.of(false) };
      if (tr.docChanged && hooks.unbound(tr.startState)) {
        queueMicrotask(() => hooks.release());
        return { effects: hooks.slot.reconfigure([]) };
      }
      return null;
    }),
    EditorState.transactionFilter.of((tr) => {
      if (hooks.importing() || !tr.docChanged) return tr;
      const len = tr.startState.doc.length;
      let whole = false;
      tr.changes.iterChangedRanges((fromA, toA) => {
        if (fromA === 0 && toA === len && len > 0) whole = true;
      });
      if (!whole) return tr;
      const { from, to, insert } = smallestChange(tr.startState.doc.toString(), tr.newDoc.toString());
      return { changes: { from, to, insert }, selection: tr.selection, effects: tr.effects, scrollIntoView: tr.scrollIntoView };
    }),
  ];
}

/** The changed middle of two texts: what is left after their common start and end. */
export function smallestChange(before: string, after: string): { from: number; to: number; insert: string } {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) end++;
  return { from: start, to: before.length - end, insert: after.slice(start, after.length - end) };
}
