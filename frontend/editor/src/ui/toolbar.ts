/** The top bar: tools, brush size, draw order, cut, view options, undo/redo, save status. */
import type { DrawOrder } from "../model/writePolicy";
import type { ToolId } from "../tools/tool";
import { h } from "./dom";

export interface ToolbarState {
  tool: ToolId | null;
  brushSize: number;
  order: DrawOrder;
  cut: boolean;
  opacity: number;
  outline: boolean;
  canUndo: boolean;
  canRedo: boolean;
  saveText: string;
  saveState: string;
  dirty: boolean;
}

export interface ToolbarActions {
  setTool(id: ToolId): void;
  setBrushSize(px: number): void;
  setOrder(o: DrawOrder): void;
  setCut(on: boolean): void;
  setOpacity(v: number): void;
  setOutline(on: boolean): void;
  undo(): void;
  redo(): void;
  save(): void;
  submit(): void;
  help(): void;
}

const TOOLS: Array<[ToolId, string, string]> = [
  ["brush", "Brush", "B"],
  ["eraser", "Eraser", "E"],
  ["polygon", "Polygon", "P"],
  ["fill", "Fill", "F"],
];

export class Toolbar {
  readonly element: HTMLElement;
  private readonly toolButtons = new Map<ToolId, HTMLButtonElement>();
  private readonly size: HTMLInputElement;
  private readonly sizeLabel: HTMLSpanElement;
  private readonly order: HTMLSelectElement;
  private readonly cut: HTMLInputElement;
  private readonly opacity: HTMLInputElement;
  private readonly outline: HTMLInputElement;
  private readonly undoBtn: HTMLButtonElement;
  private readonly redoBtn: HTMLButtonElement;
  private readonly status: HTMLSpanElement;

  constructor(a: ToolbarActions, readOnly: boolean, submitLabel = "Submit") {
    const toolGroup = h("div", { className: "tsr-group", role: "toolbar", "aria-label": "Tools" });
    for (const [id, label, key] of TOOLS) {
      const b = h("button", { type: "button", className: "tsr-tool", title: `${label} (${key})`, "data-tool": id, onclick: () => a.setTool(id) }, label);
      this.toolButtons.set(id, b);
      toolGroup.append(b);
    }
    this.size = h("input", { type: "range", min: 1, max: 200, step: 1, title: "Brush size ([ and ])" });
    this.size.addEventListener("input", () => a.setBrushSize(Number(this.size.value)));
    this.sizeLabel = h("span", { className: "tsr-size-label" });
    this.order = h(
      "select",
      { title: "Draw over / behind (M)" },
      h("option", { value: "over" }, "Draw over"),
      h("option", { value: "behind" }, "Draw behind"),
    );
    this.order.addEventListener("change", () => a.setOrder(this.order.value as DrawOrder));
    this.cut = h("input", { type: "checkbox", title: "Polygon cuts a hole (C, or hold Alt)" });
    this.cut.addEventListener("change", () => a.setCut(this.cut.checked));
    this.opacity = h("input", { type: "range", min: 0, max: 100, step: 5, title: "Mask opacity" });
    this.opacity.addEventListener("input", () => a.setOpacity(Number(this.opacity.value) / 100));
    this.outline = h("input", { type: "checkbox", title: "Outline only (O)" });
    this.outline.addEventListener("change", () => a.setOutline(this.outline.checked));
    this.undoBtn = h("button", { type: "button", title: "Undo (Ctrl+Z)", onclick: () => a.undo() }, "Undo");
    this.redoBtn = h("button", { type: "button", title: "Redo (Ctrl+Shift+Z)", onclick: () => a.redo() }, "Redo");
    this.status = h("span", { className: "tsr-save-status", "data-testid": "save-status" });
    const edit = [
      toolGroup,
      h("label", { className: "tsr-group" }, "Size ", this.size, this.sizeLabel),
      h("div", { className: "tsr-group" }, this.order),
      h("label", { className: "tsr-group" }, this.cut, " Cut"),
      h("div", { className: "tsr-group" }, this.undoBtn, this.redoBtn),
    ];
    const view = [
      h("label", { className: "tsr-group" }, "Opacity ", this.opacity),
      h("label", { className: "tsr-group" }, this.outline, " Outline"),
    ];
    const right = h(
      "div",
      { className: "tsr-group tsr-right" },
      this.status,
      readOnly ? null : h("button", { type: "button", className: "tsr-save", title: "Save draft (Ctrl+S)", onclick: () => a.save() }, "Save"),
      readOnly ? null : h("button", { type: "button", className: "tsr-submit", title: "Submit (Ctrl+Enter)", onclick: () => a.submit() }, submitLabel),
      h("button", { type: "button", title: "Keyboard shortcuts (?)", onclick: () => a.help() }, "?"),
    );
    this.element = h("div", { className: "tsr-toolbar" }, ...(readOnly ? [] : edit), ...view, right);
  }

  update(s: ToolbarState): void {
    for (const [id, b] of this.toolButtons) b.classList.toggle("tsr-active", id === s.tool);
    this.size.value = String(Math.min(200, s.brushSize));
    this.sizeLabel.textContent = `${s.brushSize}px`;
    this.order.value = s.order;
    this.cut.checked = s.cut;
    this.opacity.value = String(Math.round(s.opacity * 100));
    this.outline.checked = s.outline;
    this.undoBtn.disabled = !s.canUndo;
    this.redoBtn.disabled = !s.canRedo;
    this.status.textContent = s.saveText;
    this.status.dataset["state"] = s.saveState;
    this.status.classList.toggle("tsr-unsaved", s.dirty);
  }
}
