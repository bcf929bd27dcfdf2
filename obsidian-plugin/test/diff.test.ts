import assert from "node:assert/strict";
import { test } from "node:test";

import { type DiffLine, MAX_CELLS, hunks, lineDiff, splitLines, summary } from "../src/ui/diff";

const ops = (d: DiffLine[]) => d.map((l) => `${l.op}${l.text}`);

/** Applying the diff must give back both texts: the kept and removed lines are a, kept and added b. */
function check(a: string, b: string): DiffLine[] {
  const d = lineDiff(a, b);
  assert.deepEqual(d.filter((l) => l.op !== "+").map((l) => l.text), splitLines(a));
  assert.deepEqual(d.filter((l) => l.op !== "-").map((l) => l.text), splitLines(b));
  return d;
}

test("identical texts: every line kept", () => {
  assert.deepEqual(ops(check("a\nb\n", "a\nb\n")), [" a", " b"]);
});

test("an inserted line in the middle", () => {
  assert.deepEqual(ops(check("hello\nworld\n", "hello\nthere\nworld\n")), [" hello", "+there", " world"]);
});

test("a changed line is a removal and an addition", () => {
  assert.deepEqual(ops(check("a\nb\nc", "a\nB\nc")), [" a", "-b", "+B", " c"]);
});

test("empty sides and final newlines", () => {
  assert.deepEqual(ops(check("", "x\ny\n")), ["+x", "+y"]);
  assert.deepEqual(ops(check("x\n", "")), ["-x"]);
  assert.deepEqual(ops(check("", "")), []);
  assert.deepEqual(ops(check("x\r\ny\r\n", "x\ny\n")), [" x", " y"]);
});

test("the diff is minimal (an LCS): moved block", () => {
  const d = check("1\n2\n3\n4\n5\n", "4\n5\n1\n2\n3\n");
  assert.deepEqual(summary(d), { added: 2, removed: 2 });
});

test("random texts round-trip and keep an LCS as long as a brute-force one", () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const lcs = (x: string[], y: string[]): number => {
    const t = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
    for (let i = 1; i <= x.length; i++)
      for (let j = 1; j <= y.length; j++) t[i]![j] = x[i - 1] === y[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
    return t[x.length]![y.length]!;
  };
  for (let k = 0; k < 200; k++) {
    const a = Array.from({ length: rnd(12) }, () => "abc"[rnd(3)]!).join("\n");
    const b = Array.from({ length: rnd(12) }, () => "abc"[rnd(3)]!).join("\n");
    const d = check(a, b);
    assert.equal(d.filter((l) => l.op === " ").length, lcs(splitLines(a), splitLines(b)), `${a} | ${b}`);
  }
});

test("past MAX_CELLS the middle is replaced whole, quickly", () => {
  const n = Math.ceil(Math.sqrt(MAX_CELLS)) + 10;
  const a = Array.from({ length: n }, (_, i) => `a${i}`).join("\n");
  const b = Array.from({ length: n }, (_, i) => `b${i}`).join("\n");
  const t0 = Date.now();
  const d = check(`head\n${a}\ntail`, `head\n${b}\ntail`);
  assert.ok(Date.now() - t0 < 2000);
  assert.deepEqual(summary(d), { added: n, removed: n });
  assert.equal(d[0]!.op, " ");
  assert.equal(d.at(-1)!.op, " ");
});

test("hunks keep 3 lines of context and count what they skip", () => {
  const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n");
  const b = a.replace("l10", "L10");
  const hs = hunks(lineDiff(a, b));
  assert.equal(hs.length, 1);
  assert.equal(hs[0]!.skipped, 7);
  assert.deepEqual(ops(hs[0]!.lines), [" l7", " l8", " l9", "-l10", "+L10", " l11", " l12", " l13"]);
  assert.deepEqual(hunks(lineDiff(a, a)), []);
});
