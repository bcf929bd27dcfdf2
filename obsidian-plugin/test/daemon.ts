/**
 * A real `peervault run` for the tests: a temp vault made with `peervault init`, the daemon
 * started as a child process (no relays; short debounce), ready once its socket answers.
 * PEERVAULT_BIN names the executable (default: the repository's .venv).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { DaemonApi } from "../src/daemon/api";
import { NodeTransport } from "../src/daemon/node-transport";

export const PEERVAULT_BIN =
  process.env["PEERVAULT_BIN"] ?? resolve(process.env["PEERVAULT_PLUGIN_DIR"] ?? process.cwd(), "../.venv/bin/peervault");

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export function makeVault(): { base: string; vault: string } {
  const base = mkdtempSync(join(tmpdir(), "pvp-"));
  const vault = join(base, "v");
  execFileSync(PEERVAULT_BIN, ["init", vault], { stdio: "ignore" });
  return { base, vault };
}

export class RunningDaemon {
  proc!: ChildProcess;
  log = "";
  constructor(
    readonly vault: string,
    readonly port: number,
  ) {}

  async start(): Promise<this> {
    const args = ["run", this.vault, "--debounce-ms", "100", "--no-relay", "--bind", "127.0.0.1:0", "--api", `127.0.0.1:${this.port}`];
    this.proc = spawn(PEERVAULT_BIN, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PEERVAULT_NO_RELAY: "1", PEERVAULT_NO_MDNS: "1" } });
    this.proc.stderr!.on("data", (b: Buffer) => (this.log += b.toString()));
    const api = new DaemonApi(new NodeTransport({ vault: this.vault }));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`peervault run exited ${this.proc.exitCode}:\n${this.log}`);
      if (existsSync(join(this.vault, ".peervault", "control.sock"))) {
        try {
          await api.get("/status");
          return this;
        } catch {
          // bound but not answering yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the daemon did not answer within 20 s:\n${this.log}`);
  }

  /** SIGTERM, and wait for the process to be gone. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    const exited = new Promise<number | null>((r) => this.proc.once("exit", (code) => r(code)));
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

export function cleanup(base: string): void {
  rmSync(base, { recursive: true, force: true });
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
