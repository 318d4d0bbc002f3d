/** The "?" overlay, generated from the key binding table. */
import type { KeyBinding } from "../input/keymap";
import { h } from "./dom";

export function buildHelpOverlay(bindings: KeyBinding[], readOnly: boolean, onClose: () => void): HTMLElement {
  const rows = bindings
    .filter((b) => b.keys !== "" && (!readOnly || !b.editOnly))
    .map((b) => h("tr", {}, h("td", {}, h("kbd", {}, b.keys)), h("td", {}, b.description)));
  const overlay = h(
    "div",
    { className: "tsr-help", role: "dialog", "aria-label": "Keyboard shortcuts", hidden: true },
    h(
      "div",
      { className: "tsr-help-card" },
      h("h2", {}, "Keyboard shortcuts"),
      h("table", {}, h("tbody", {}, ...rows)),
      h(
        "p",
        { className: "tsr-help-note" },
        "Draw behind never overwrites pixels owned by another segment. Locked and hidden segments are never overwritten. Editing a pre-labelled segment confirms it.",
      ),
      h("button", { type: "button", onclick: onClose }, "Close (Esc)"),
    ),
  );
  overlay.addEventListener("click", (e) => {
    if (e.target === overlay) onClose();
  });
  return overlay;
}
