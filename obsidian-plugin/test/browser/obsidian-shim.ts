/**
 * What Obsidian gives a plugin at run time, for loading the BUILT plugin (main.js) in a page:
 * stand-ins for the few Obsidian classes it uses, Obsidian's DOM helpers (createEl, setText…)
 * and its editorInfoField. They record what the plugin did; they imitate nothing else.
 * CodeMirror itself is the real one: the same module instance the page's editor uses.
 */
import { StateField } from "@codemirror/state";

type Handler = (...args: unknown[]) => void;
interface ElOptions {
  cls?: string | string[];
  text?: string;
  attr?: Record<string, string>;
}

export const record = { notices: [] as string[], commands: [] as string[], views: [] as string[], extensions: [] as unknown[], settingTabs: 0, statusBar: [] as HTMLElement[] };

/** Obsidian's helpers on every element, as far as the plugin uses them. */
function create<K extends keyof HTMLElementTagNameMap>(this: HTMLElement, tag: K, o?: ElOptions | string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  const opts = typeof o === "string" ? { cls: o } : (o ?? {});
  if (opts.cls) el.className = Array.isArray(opts.cls) ? opts.cls.join(" ") : opts.cls;
  if (opts.text !== undefined) el.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attr ?? {})) el.setAttribute(k, v);
  this.appendChild(el);
  return el;
}
Object.assign(HTMLElement.prototype, {
  createEl: create,
  createDiv(this: HTMLElement, o?: ElOptions | string) {
    return create.call(this, "div", o);
  },
  createSpan(this: HTMLElement, o?: ElOptions | string) {
    return create.call(this, "span", o);
  },
  empty(this: HTMLElement) {
    this.replaceChildren();
  },
  setText(this: HTMLElement, t: string) {
    this.textContent = t;
  },
  addClass(this: HTMLElement, ...c: string[]) {
    this.classList.add(...c);
  },
});

class Events {
  private handlers = new Map<string, Handler[]>();
  on(name: string, fn: Handler): { name: string; fn: Handler } {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), fn]);
    return { name, fn };
  }
  trigger(name: string, ...args: unknown[]): void {
    for (const fn of this.handlers.get(name) ?? []) fn(...args);
  }
}

export class TFile {
  constructor(
    readonly path: string,
    readonly extension = path.split(".").pop() ?? "",
  ) {}
  get basename(): string {
    return this.path.replace(/\.[^.]*$/, "").split("/").pop() ?? "";
  }
}

export class FileSystemAdapter {
  constructor(private readonly base: string) {}
  getBasePath(): string {
    return this.base;
  }
}

export class App {
  vault: Events & { adapter: FileSystemAdapter };
  workspace = Object.assign(new Events(), { getActiveFile: (): TFile | null => null, getLeavesOfType: () => [] });
  constructor(base: string) {
    this.vault = Object.assign(new Events(), { adapter: new FileSystemAdapter(base) });
  }
}

export class Notice {
  noticeEl = document.createElement("div");
  constructor(message: string | DocumentFragment, _duration?: number) {
    this.noticeEl.className = "notice";
    this.noticeEl.append(message);
    document.body.append(this.noticeEl);
    record.notices.push(this.noticeEl.textContent ?? "");
  }
  setMessage(message: string): this {
    this.noticeEl.textContent = message;
    return this;
  }
  hide(): void {
    this.noticeEl.remove();
  }
}

export class Component {
  private cleanups: (() => void)[] = [];
  register(cb: () => void): void {
    this.cleanups.push(cb);
  }
  registerEvent(_ref: unknown): void {}
  registerDomEvent(el: EventTarget, type: string, fn: EventListener): void {
    el.addEventListener(type, fn);
    this.register(() => el.removeEventListener(type, fn));
  }
  registerInterval(id: number): number {
    this.register(() => clearInterval(id));
    return id;
  }
  load(): void {
    void (this as unknown as { onload?: () => unknown }).onload?.();
  }
  unload(): void {
    (this as unknown as { onunload?: () => void }).onunload?.();
    for (const c of this.cleanups.splice(0).reverse()) c();
  }
}

export class Plugin extends Component {
  constructor(
    readonly app: App,
    readonly manifest: unknown,
  ) {
    super();
  }
  addCommand(c: { id: string }): unknown {
    record.commands.push(c.id);
    return c;
  }
  addStatusBarItem(): HTMLElement {
    const el = document.createElement("div");
    document.getElementById("status-bar")?.append(el);
    record.statusBar.push(el);
    this.register(() => el.remove());
    return el;
  }
  registerView(type: string): void {
    record.views.push(type);
  }
  registerEditorExtension(ext: unknown): void {
    record.extensions.push(ext);
  }
  addSettingTab(): void {
    record.settingTabs += 1;
  }
}

export class Modal {
  contentEl = document.createElement("div");
  constructor(readonly app: App) {}
  open(): void {}
  close(): void {}
}

export class ItemView extends Component {
  contentEl = document.createElement("div");
  constructor(readonly leaf: unknown) {
    super();
  }
}

export class PluginSettingTab {
  containerEl = document.createElement("div");
  constructor(
    readonly app: App,
    readonly plugin: Plugin,
  ) {}
}

export class Setting {
  constructor(readonly containerEl: HTMLElement) {}
}

/** Obsidian's field naming the note an editor shows: here, the note the page says. */
export const shownNote: { file: TFile | null } = { file: null };
export const editorInfoField = StateField.define<{ file: TFile | null }>({
  create: () => ({ file: shownNote.file }),
  update: (v) => v,
});
