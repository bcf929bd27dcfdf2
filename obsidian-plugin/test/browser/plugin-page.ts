/**
 * The test page for the BUILT plugin: main.js exactly as `peervault obsidian install` copies
 * it, loaded the way Obsidian loads a plugin (CommonJS, with `require` answering for
 * "obsidian", CodeMirror and Node's builtins), in an app with no daemon running. Node's
 * builtins answer as on a machine where nothing listens: every connection is refused.
 */
import * as cmState from "@codemirror/state";
import * as cmView from "@codemirror/view";

import * as obsidian from "./obsidian-shim";

function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED (no daemon in the browser harness)"), { code: "ECONNREFUSED" });
}

const http = {
  request() {
    const handlers: Record<string, ((arg: unknown) => void)[]> = {};
    const req = {
      on(name: string, fn: (arg: unknown) => void) {
        (handlers[name] ??= []).push(fn);
        return req;
      },
      once(name: string, fn: (arg: unknown) => void) {
        return req.on(name, fn);
      },
      setTimeout: () => req,
      write: () => true,
      destroy: () => undefined,
      end() {
        setTimeout(() => (handlers.error ?? []).forEach((fn) => fn(refused())), 0);
      },
    };
    return req;
  },
};
const enoent = (): never => {
  throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
};
const builtins: Record<string, unknown> = {
  http,
  fs: { readFileSync: enoent, existsSync: () => false, statSync: enoent },
  path: { join: (...p: string[]) => p.join("/").replace(/\/+/g, "/"), sep: "/" },
  os: { homedir: () => "/home/user", platform: () => "linux" },
  child_process: {
    spawn() {
      throw new Error("spawn is not available in the browser harness");
    },
  },
};
const modules: Record<string, unknown> = { obsidian, "@codemirror/state": cmState, "@codemirror/view": cmView, ...builtins };

function requireShim(name: string): unknown {
  const m = modules[name.replace(/^node:/, "")];
  if (m === undefined) throw new Error(`the built plugin requires "${name}", which Obsidian does not provide`);
  return m;
}

interface Loaded {
  unload(): void;
  onload(): Promise<void>;
}

class PluginHarness {
  plugin: Loaded | null = null;
  view: cmView.EditorView | null = null;
  record = obsidian.record;

  async load(url: string): Promise<void> {
    const code = await (await fetch(url)).text();
    const module = { exports: {} as Record<string, unknown> };
    new Function("require", "module", "exports", code)(requireShim, module, module.exports);
    const Plugin = module.exports.default as new (app: obsidian.App, manifest: unknown) => Loaded;
    const manifest = await (await fetch("/manifest.json")).json();
    this.plugin = new Plugin(new obsidian.App("/vaults/demo"), manifest);
    await this.plugin.onload();
  }

  /** An editor with every extension the plugin registered, showing `path`. */
  mount(path: string, text: string): void {
    obsidian.shownNote.file = new obsidian.TFile(path);
    const parent = document.getElementById("editor");
    if (!parent) throw new Error("no #editor");
    this.view = new cmView.EditorView({
      parent,
      state: cmState.EditorState.create({ doc: text, extensions: obsidian.record.extensions as cmState.Extension[] }),
    });
    this.view.focus();
    this.view.dispatch({ selection: { anchor: text.length } });
  }

  text(): string {
    return this.view?.state.doc.toString() ?? "";
  }

  statusBar(): string[] {
    return Array.from(document.querySelectorAll("#status-bar > *")).map((el) => el.textContent ?? "");
  }

  unload(): void {
    this.view?.destroy();
    this.view = null;
    this.plugin?.unload();
  }
}

declare global {
  interface Window {
    built: PluginHarness;
  }
}

window.built = new PluginHarness();
