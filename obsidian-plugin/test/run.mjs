// `npm test`: bundle each test/*.test.ts with esbuild ("obsidian" replaced by the fake in
// test/fake-obsidian.ts), then run the bundles with Node's own test runner, one at a time.
// test/browser/ (the browser harness) is left out unless given: `node test/run.mjs test/browser`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dirs = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const tests = (dirs.length ? dirs.map((d) => resolve(d)) : [here]).flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => join(d, f)),
);
const out = mkdtempSync(join(tmpdir(), "peervault-plugin-tests-"));
try {
  await esbuild.build({
    entryPoints: tests,
    outdir: out,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    alias: { obsidian: join(here, "fake-obsidian.ts"), "loro-crdt": "loro-crdt/nodejs" },
    external: ["esbuild"],
    // esm output of cjs packages (qrcode-generator) needs a require()
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    sourcemap: "inline",
    logLevel: "warning",
  });
  const files = tests.map((t) => join(out, basename(t).replace(/\.ts$/, ".mjs")));
  const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));
  const res = spawnSync(process.execPath, ["--enable-source-maps", "--test", "--test-concurrency=1", ...extra, ...files], {
    stdio: "inherit",
    env: { ...process.env, PEERVAULT_PLUGIN_DIR: resolve(here, "..") },
  });
  process.exitCode = res.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
