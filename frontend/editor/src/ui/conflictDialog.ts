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
