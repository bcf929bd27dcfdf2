/**
 * A line diff (longest common subsequence) between an old version and the note's current
 * text, for the history view. Common head and tail lines are taken off first, so an edit
 * in a long note costs little; past MAX_CELLS the middle is shown as replaced whole rather
 * than spending seconds and megabytes on the table.
 */

export type Op = " " | "-" | "+";

export interface DiffLine {
  op: Op;
  text: string;
}

export const MAX_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop(); // a final newline ends the last line; it is not a line
  return lines;
}

/** Lines of `a` turned into lines of `b`: " " kept, "-" only in a, "+" only in b. */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = splitLines(a);
  const y = splitLines(b);
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const out: DiffLine[] = x.slice(0, head).map((text) => ({ op: " ", text }));
  out.push(...middle(x.slice(head, x.length - tail), y.slice(head, y.length - tail)));
  out.push(...x.slice(x.length - tail).map((text): DiffLine => ({ op: " ", text })));
  return out;
}

function middle(x: string[], y: string[]): DiffLine[] {
  const n = x.length;
  const m = y.length;
  if (n * m > MAX_CELLS || n === 0 || m === 0) {
    return [...x.map((text): DiffLine => ({ op: "-", text })), ...y.map((text): DiffLine => ({ op: "+", text }))];
  }
  // len[i][j]: the LCS length of x[i:] and y[j:], in one flat array
  const w = m + 1;
  const len = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i * w + j] = x[i] === y[j] ? len[(i + 1) * w + j + 1]! + 1 : Math.max(len[(i + 1) * w + j]!, len[i * w + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: " ", text: x[i++]! });
      j++;
    } else if (len[(i + 1) * w + j]! >= len[i * w + j + 1]!) {
      out.push({ op: "-", text: x[i++]! });
    } else {
      out.push({ op: "+", text: y[j++]! });
    }
  }
  while (i < n) out.push({ op: "-", text: x[i++]! });
  while (j < m) out.push({ op: "+", text: y[j++]! });
  return out;
}

export interface Hunk {
  /** Lines left out before this hunk (unchanged), to say "… N unchanged lines". */
  skipped: number;
  lines: DiffLine[];
}

/** The changed lines with `context` unchanged lines around each; the rest is counted. */
export function hunks(diff: DiffLine[], context = 3): Hunk[] {
  const keep = new Array<boolean>(diff.length).fill(false);
  diff.forEach((d, k) => {
    if (d.op === " ") return;
    for (let c = Math.max(0, k - context); c <= Math.min(diff.length - 1, k + context); c++) keep[c] = true;
  });
  const out: Hunk[] = [];
  let skipped = 0;
  let cur: Hunk | null = null;
  diff.forEach((d, k) => {
    if (!keep[k]) {
      skipped++;
      cur = null;
      return;
    }
    if (!cur) out.push((cur = { skipped, lines: [] }));
    skipped = 0;
    cur.lines.push(d);
  });
  return out;
}

export function summary(diff: DiffLine[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const d of diff) {
    if (d.op === "+") added++;
    else if (d.op === "-") removed++;
  }
  return { added, removed };
}
