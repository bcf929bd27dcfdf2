/**
 * Start `peervault run VAULT` when the user asks to (the daemon is not running). The
 * configured executable is spawned detached, so it outlives Obsidian like a daemon the
 * user started in a terminal; nothing is downloaded or installed.
 */
import { spawn } from "child_process";

import type { Target } from "./node-transport";

export function runArgs(vault: string, target: Target): string[] {
  const args = ["run", vault];
  if (target.kind === "tcp") args.push("--api", `127.0.0.1:${target.port}`);
  return args;
}

/** Resolves once the process started; rejects with a sentence to show when it could not. */
export function startDaemon(executable: string, vault: string, target: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(executable, runArgs(vault, target), { detached: true, stdio: "ignore", windowsHide: true });
    } catch (err) {
      reject(new Error(`could not start ${executable}: ${(err as Error).message}`));
      return;
    }
    child.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === "ENOENT"
            ? `“${executable}” was not found: set the path of the peervault executable in PeerVault's settings`
            : `could not start ${executable}: ${err.message}`,
        ),
      );
    });
    child.once("spawn", () => {
      child.unref(); // Obsidian may quit; the daemon keeps syncing
      resolve(child.pid ?? 0);
    });
  });
}
