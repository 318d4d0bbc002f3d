/** Short, non-blocking messages ("segment is locked", "saved"). */
import { h } from "./dom";

export class Toasts {
  readonly element = h("div", { className: "tsr-toasts", role: "status", "aria-live": "polite" });

  show(message: string, kind: "info" | "warn" | "error" = "info", ms = 3500): void {
    const el = h("div", { className: `tsr-toast tsr-toast-${kind}` }, message);
    this.element.append(el);
    while (this.element.children.length > 4) this.element.firstElementChild?.remove();
    setTimeout(() => el.remove(), ms);
  }
}
