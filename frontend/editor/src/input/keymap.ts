/**
 * Keyboard bindings, defined once: the handler and the help overlay both read this table,
 * so the help can never drift from what the keys do.
 */
import type { Category } from "../model/taxonomy";
import type { ToolId } from "../tools/tool";

export interface EditorActions {
  setTool(id: ToolId): void;
  growBrush(factor: number): void;
  selectCategory(id: number): void;
  newInstance(): void;
  undo(): void;
  redo(): void;
  save(): void;
  submit(): void;
  fit(): void;
  toggleHelp(): void;
  toggleDrawOrder(): void;
  toggleCut(): void;
  toggleOutline(): void;
}

export interface KeyBinding {
  keys: string;
  description: string;
  /** Only in edit mode (review is read-only). */
  editOnly: boolean;
  match(ev: KeyboardEvent): boolean;
  run(): void;
}

const ctrl = (ev: KeyboardEvent): boolean => ev.ctrlKey || ev.metaKey;
const plain = (ev: KeyboardEvent): boolean => !ev.ctrlKey && !ev.metaKey && !ev.altKey;

/** Keys the editor itself uses; a category hotkey equal to one of them needs Shift. */
export const RESERVED_KEYS = new Set(["b", "e", "p", "f", "n", "m", "c", "o", "0", "[", "]", "?", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

export function categoryKey(cat: Category): { key: string; shift: boolean } | null {
  const k = (cat.hotkey ?? "").trim().toLowerCase();
  if (k.length !== 1) return null;
  return { key: k, shift: RESERVED_KEYS.has(k) };
}

export function buildKeyBindings(a: EditorActions, categories: Category[]): KeyBinding[] {
  const key = (k: string) => (ev: KeyboardEvent) => plain(ev) && ev.key.toLowerCase() === k && !ev.shiftKey;
  const b: KeyBinding[] = [
    { keys: "B", description: "Brush", editOnly: true, match: key("b"), run: () => a.setTool("brush") },
    { keys: "E", description: "Eraser (writes void)", editOnly: true, match: key("e"), run: () => a.setTool("eraser") },
    { keys: "P", description: "Polygon (click vertices, Enter closes)", editOnly: true, match: key("p"), run: () => a.setTool("polygon") },
    { keys: "F", description: "Fill bucket (4-connected region)", editOnly: true, match: key("f"), run: () => a.setTool("fill") },
    { keys: "[ / ]", description: "Smaller / larger brush", editOnly: true, match: () => false, run: () => {} },
    { keys: "N", description: "New instance of the current thing class", editOnly: true, match: key("n"), run: () => a.newInstance() },
    { keys: "M", description: "Toggle draw over / draw behind", editOnly: true, match: key("m"), run: () => a.toggleDrawOrder() },
    { keys: "C (or hold Alt)", description: "Polygon cuts a hole in the current segment", editOnly: true, match: key("c"), run: () => a.toggleCut() },
    { keys: "O", description: "Outline-only view", editOnly: false, match: key("o"), run: () => a.toggleOutline() },
    { keys: "Ctrl+Z", description: "Undo", editOnly: true, match: (ev) => ctrl(ev) && !ev.shiftKey && ev.key.toLowerCase() === "z", run: () => a.undo() },
    { keys: "Ctrl+Shift+Z / Ctrl+Y", description: "Redo", editOnly: true, match: (ev) => ctrl(ev) && ((ev.shiftKey && ev.key.toLowerCase() === "z") || ev.key.toLowerCase() === "y"), run: () => a.redo() },
    { keys: "Ctrl+S", description: "Save draft", editOnly: true, match: (ev) => ctrl(ev) && ev.key.toLowerCase() === "s", run: () => a.save() },
    { keys: "Ctrl+Enter", description: "Submit", editOnly: true, match: (ev) => ctrl(ev) && ev.key === "Enter", run: () => a.submit() },
    { keys: "Space + drag, middle drag", description: "Pan", editOnly: false, match: () => false, run: () => {} },
    { keys: "Wheel", description: "Zoom around the cursor", editOnly: false, match: () => false, run: () => {} },
    { keys: "0", description: "Fit the image", editOnly: false, match: key("0"), run: () => a.fit() },
    { keys: "?", description: "This help", editOnly: false, match: (ev) => !ctrl(ev) && ev.key === "?", run: () => a.toggleHelp() },
  ];
  // The "[ / ]" row above only documents (it matches nothing); these two do the work.
  b.push(
    { keys: "", description: "", editOnly: true, match: (ev) => plain(ev) && ev.key === "[", run: () => a.growBrush(1 / 1.25) },
    { keys: "", description: "", editOnly: true, match: (ev) => plain(ev) && ev.key === "]", run: () => a.growBrush(1.25) },
  );
  categories.slice(0, 9).forEach((cat, i) => {
    const digit = String(i + 1);
    b.push({
      keys: digit,
      description: `Category: ${cat.name}`,
      editOnly: true,
      match: (ev) => plain(ev) && ev.key === digit,
      run: () => a.selectCategory(cat.id),
    });
  });
  for (const cat of categories) {
    const ck = categoryKey(cat);
    if (!ck) continue;
    b.push({
      keys: ck.shift ? `Shift+${ck.key.toUpperCase()}` : ck.key.toUpperCase(),
      description: `Category: ${cat.name} (its hotkey)`,
      editOnly: true,
      match: (ev) => plain(ev) && ev.key.toLowerCase() === ck.key && ev.shiftKey === ck.shift,
      run: () => a.selectCategory(cat.id),
    });
  }
  // Reserved bindings come first in the list, so they win over a colliding bare hotkey.
  return b;
}

/** Typing in a form field must not trigger tools (Ctrl+S and Ctrl+Enter still work). */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}
