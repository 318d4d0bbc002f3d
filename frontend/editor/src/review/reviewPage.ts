/**
 * The review page (qa/templates/qa/review_item.html): the editor in review mode with comment
 * pins, and "Fix and accept": the reviewer edits a copy of the submission in the same editor
 * and submits it through POST /api/reviews/{id}/fix/ (a revision attributed to the reviewer,
 * source review_fix, that becomes the accepted one). The form's comment and pins go with it.
 */
import type { EditorConfig } from "../config";
import type { MountOptions, TesseraEditor } from "../editor";
import { h } from "../ui/dom";
import { registerReviewExtension } from "./extension";
import { ReviewPins } from "./pins";

export interface ReviewPageOptions {
  root: HTMLElement;
  config: EditorConfig;
  /** Mounts an editor (main.ts' mount, which also publishes the test hook). */
  mount(root: HTMLElement, config: EditorConfig, opts?: MountOptions): Promise<TesseraEditor>;
  /** The decision form; absent when the reviewer cannot decide. */
  form: HTMLFormElement | null;
  pinsField: HTMLInputElement | null;
  pinList: HTMLElement | null;
  comment: HTMLTextAreaElement | null;
  /** Whether "Fix and accept" is offered (a pending item the reviewer may decide). */
  canFix: boolean;
}

export async function setupReviewPage(o: ReviewPageOptions): Promise<TesseraEditor> {
  const pins = new ReviewPins({ field: o.pinsField, list: o.pinList, form: o.form });
  registerReviewExtension(pins);
  let editor = await o.mount(o.root, { ...o.config, mode: "review" });
  if (!o.canFix || !o.form || o.config.reviewItemId === null) return editor;

  const status = h("p", { className: "meta", "data-testid": "fix-status", hidden: true });
  const cancel = h("button", { type: "button", id: "fix-cancel", hidden: true }, "Cancel the fix");
  const start = h("button", { type: "button", id: "fix-start", title: "Correct the work yourself and accept the correction" }, "Fix and accept…");
  o.form.append(h("div", { className: "fix-actions" }, start, cancel, status));

  const decisionParts = (): HTMLElement[] => [...o.form!.querySelectorAll<HTMLElement>("fieldset, #decision-submit")];

  start.addEventListener("click", async () => {
    start.disabled = true;
    editor.destroy();
    const config: EditorConfig = { ...o.config, mode: "fix" };
    editor = await o.mount(o.root, config, {
      fixComment: () => o.comment?.value ?? "",
      fixPins: () => JSON.parse(o.pinsField?.value || "[]") as unknown[],
      onFixed: () => {
        status.textContent = "Fixed and accepted. Back to the review queue…";
        setTimeout(() => window.location.assign(o.config.queueUrl), 800);
      },
    });
    for (const el of decisionParts()) el.hidden = true;
    start.hidden = true;
    cancel.hidden = false;
    status.hidden = false;
    status.textContent = "Fixing: edit the submission, then Submit fix (Ctrl+Enter). Your comment and pins go with it.";
  });

  cancel.addEventListener("click", async () => {
    if (editor.save.isDirty && !window.confirm("Drop the changes of this fix? (They stay in this browser as a local backup.)")) return;
    editor.destroy();
    editor = await o.mount(o.root, { ...o.config, mode: "review" });
    for (const el of decisionParts()) el.hidden = false;
    start.hidden = false;
    start.disabled = false;
    cancel.hidden = true;
    status.hidden = true;
  });
  return editor;
}
