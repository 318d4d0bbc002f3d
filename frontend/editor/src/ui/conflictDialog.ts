/** Shown on a 409: the local work stays; the annotator picks how to continue. */
import { h } from "./dom";

export interface ConflictChoices {
  keepMine(): void;
  loadTheirs(): void;
  later(): void;
}

export function buildConflictDialog(currentRevision: number | null, parent: number | null, c: ConflictChoices): HTMLElement {
  return h(
    "div",
    { className: "tsr-dialog", role: "alertdialog", "aria-label": "Save conflict", "data-testid": "conflict-dialog" },
    h(
      "div",
      { className: "tsr-dialog-card" },
      h("h2", {}, "This task was saved elsewhere"),
      h(
        "p",
        {},
        `Your work started from revision ${parent ?? "—"}, but the latest is revision ${currentRevision ?? "?"}. Nothing you drew is lost.`,
      ),
      h(
        "div",
        { className: "tsr-dialog-actions" },
        h("button", { type: "button", className: "tsr-primary", onclick: c.keepMine }, "Keep mine on top of current"),
        h("button", { type: "button", onclick: c.loadTheirs }, "Load theirs (keep mine as a local backup)"),
        h("button", { type: "button", onclick: c.later }, "Decide later"),
      ),
    ),
  );
}

export interface NotEditableChoices {
  download(): void;
  reload(): void;
  close(): void;
}

/** Shown when the task can no longer be saved here (409 task_not_editable, a 403, a decided review). */
export function buildNotEditableDialog(message: string, keptLocally: boolean, c: NotEditableChoices): HTMLElement {
  return h(
    "div",
    { className: "tsr-dialog", role: "alertdialog", "aria-label": "Cannot save", "data-testid": "not-editable-dialog" },
    h(
      "div",
      { className: "tsr-dialog-card" },
      h("h2", {}, "This work cannot be saved here any more"),
      h("p", {}, message),
      h(
        "p",
        {},
        keptLocally
          ? "Your work is kept in this browser (a local backup, offered when you open this task again). You can also download it."
          : "Your work is still on screen. Download it to keep a copy.",
      ),
      h(
        "div",
        { className: "tsr-dialog-actions" },
        h("button", { type: "button", className: "tsr-primary", onclick: c.download }, "Download my work"),
        h("button", { type: "button", onclick: c.reload }, "Reload the page"),
        h("button", { type: "button", onclick: c.close }, "Close"),
      ),
    ),
  );
}

/** A yes/no question in the page (testable, unlike window.confirm). */
export function buildConfirmDialog(title: string, text: string, confirmLabel: string, onConfirm: () => void, onCancel: () => void): HTMLElement {
  const d = h(
    "div",
    { className: "tsr-dialog", role: "alertdialog", "aria-label": title, "data-testid": "confirm-dialog" },
    h(
      "div",
      { className: "tsr-dialog-card" },
      h("h2", {}, title),
      h("p", {}, text),
      h(
        "div",
        { className: "tsr-dialog-actions" },
        h("button", { type: "button", className: "tsr-primary", "data-testid": "confirm-yes", onclick: onConfirm }, confirmLabel),
        h("button", { type: "button", "data-testid": "confirm-no", onclick: onCancel }, "Cancel"),
      ),
    ),
  );
  d.addEventListener("keydown", (e) => {
    if (e.key === "Escape") onCancel();
  });
  return d;
}
