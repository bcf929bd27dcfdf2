/**
 * Stand-ins for the few Obsidian classes the modules under test import (the real ones exist
 * only inside the app). They record what the plugin did; they imitate nothing else.
 */

export const notices: string[] = [];

export class Notice {
  message: string;
  constructor(message: string | DocumentFragment, _duration?: number) {
    this.message = typeof message === "string" ? message : (message.textContent ?? "");
    notices.push(this.message);
  }
  setMessage(message: string): this {
    this.message = message;
    return this;
  }
  hide(): void {}
}

export class App {}

export class Component {
  private cleanups: (() => void)[] = [];
  register(cb: () => void): void {
    this.cleanups.push(cb);
  }
  registerEvent(): void {}
  unload(): void {
    for (const c of this.cleanups.splice(0)) c();
  }
}

export interface Command {
  id: string;
  name: string;
  callback?: () => unknown;
  checkCallback?: (checking: boolean) => boolean | void;
}

export class Plugin extends Component {
  app: App;
  commands: Command[] = [];
  constructor(app: App = new App()) {
    super();
    this.app = app;
  }
  addCommand(c: Command): Command {
    this.commands.push(c);
    return c;
  }
  addStatusBarItem(): unknown {
    return null;
  }
  registerView(): void {}
  registerEditorExtension(): void {}
  addSettingTab(): void {}
}

export class Modal {
  app: App;
  constructor(app: App) {
    this.app = app;
  }
  open(): void {}
  close(): void {}
}

export class ItemView extends Component {
  constructor(readonly leaf: unknown) {
    super();
  }
}

export class PluginSettingTab {
  constructor(
    readonly app: App,
    readonly plugin: Plugin,
  ) {}
}

export class Setting {}
export class FileSystemAdapter {}
export class TFile {}
