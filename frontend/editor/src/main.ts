/**
 * Entry point (/static/editor/editor.js): mounts the editor on `#tessera-editor` using its
 * data-config, and exports the API for other pages (review extensions, benchmarks).
 */
import "./styles/editor.css";
import { ConfigError, type EditorConfig, parseConfig } from "./config";
import { type MountOptions, mountEditor, type TesseraEditor } from "./editor";
import { type ReviewPageOptions, setupReviewPage as setupReviewPageWith } from "./review/reviewPage";
import { createTestHook, type TesseraEditorHook } from "./testHook";

export { registerReviewExtension } from "./review/extension";
export { ReviewPins, pinsPayload } from "./review/pins";
export type { ReviewContext, ReviewExtension, ImageHit } from "./review/extension";
export type { Backend } from "./io/api";
export type { EditorConfig, MountOptions, TesseraEditor };

declare global {
  interface Window {
    tesseraEditor?: TesseraEditorHook;
  }
}

/** Mounts and publishes the read-only test hook on window.tesseraEditor. */
export async function mount(root: HTMLElement, config: EditorConfig, opts: MountOptions = {}): Promise<TesseraEditor> {
  const editor = await mountEditor(root, config, opts);
  Object.defineProperty(window, "tesseraEditor", { value: createTestHook(editor), configurable: true, writable: false });
  return editor;
}

/**
 * The review page: pins and "Fix and accept" around the editor (see review/reviewPage.ts).
 * The page's root has data-auto-mount="false"; its inline module calls this.
 */
export function setupReviewPage(opts: Omit<ReviewPageOptions, "mount" | "config">): Promise<TesseraEditor> {
  const config = parseConfig(opts.root.dataset["config"]);
  return setupReviewPageWith({ ...opts, config, mount });
}

function autoMount(): void {
  const root = document.getElementById("tessera-editor");
  if (!root || root.dataset["autoMount"] === "false") return;
  let config: EditorConfig;
  try {
    config = parseConfig(root.dataset["config"]);
  } catch (e) {
    root.textContent = e instanceof ConfigError ? `Editor configuration error: ${e.message}` : String(e);
    throw e;
  }
  void mount(root, config);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoMount, { once: true });
else autoMount();
