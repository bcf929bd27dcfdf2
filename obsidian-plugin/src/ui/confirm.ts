/** A yes / no question before something the user may regret (restore, forget a device). */
import { type App, Modal, Setting } from "obsidian";

export class ConfirmModal extends Modal {
  private answered = false;

  constructor(
    app: App,
    private readonly title: string,
    private readonly message: string,
    private readonly confirmText: string,
    private readonly resolve: (yes: boolean) => void,
    private readonly warning = false,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.titleEl.setText(this.title);
    this.contentEl.createEl("p", { text: this.message });
    new Setting(this.contentEl)
      .addButton((b) => b.setButtonText("Cancel").onClick(() => this.close()))
      .addButton((b) => {
        b.setButtonText(this.confirmText).onClick(() => {
          this.answered = true;
          this.close();
          this.resolve(true);
        });
        if (this.warning) b.setWarning();
        else b.setCta();
      });
  }

  override onClose(): void {
    this.contentEl.empty();
    if (!this.answered) this.resolve(false);
  }
}

export function confirm(app: App, title: string, message: string, confirmText: string, warning = false): Promise<boolean> {
  return new Promise((resolve) => new ConfirmModal(app, title, message, confirmText, resolve, warning).open());
}
