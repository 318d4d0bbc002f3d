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
/** AltGr (Ctrl+Alt on Windows) types "[" and "]" on many layouts (German, French…). */
const altGraph = (ev: KeyboardEvent): boolean => typeof ev.getModifierState === "function" && ev.getModifierState("AltGraph");

/** The physical key (KeyboardEvent.code) that types `k` on a US layout, for shifted hotkeys. */
export function codeForKey(k: string): string | null {
  if (/^[a-z]$/.test(k)) return `Key${k.toUpperCase()}`;
  if (/^[0-9]$/.test(k)) return `Digit${k}`;
  return ({ "[": "BracketLeft", "]": "BracketRight", "/": "Slash", "-": "Minus", "=": "Equal", ";": "Semicolon", ",": "Comma", ".": "Period" } as Record<string, string>)[k] ?? null;
}

/** `[` or `]`: the character (any layout, AltGr included) or the physical key (US position). */
function bracket(ev: KeyboardEvent, key: "[" | "]"): boolean {
  if (ctrl(ev) && !altGraph(ev)) return false;
  if (ev.key === key) return plain(ev) || altGraph(ev);
  return plain(ev) && !ev.shiftKey && ev.code === (key === "[" ? "BracketLeft" : "BracketRight");
}

/** Keys the editor itself uses; a category hotkey equal to one of them needs Shift. */
export const RESERVED_KEYS = new Set(["b", "e", "p", "f", "n", "m", "c", "o", "0", "[", "]", "?", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

export function categoryKey(cat: Category): { key: string; shift: boolean } | null {
  const k = (cat.hotkey ?? "").trim().toLowerCase();
  // "?" is the help key and already needs Shift on most layouts: it cannot be a hotkey.
  if (k.length !== 1 || k === "?" || k === " ") return null;
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
    { keys: "", description: "", editOnly: true, match: (ev) => bracket(ev, "["), run: () => a.growBrush(1 / 1.25) },
    { keys: "", description: "", editOnly: true, match: (ev) => bracket(ev, "]"), run: () => a.growBrush(1.25) },
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
    const code = codeForKey(ck.key);
    b.push({
      keys: ck.shift ? `Shift+${ck.key.toUpperCase()}` : ck.key.toUpperCase(),
      description: `Category: ${cat.name} (its hotkey)`,
      editOnly: true,
      // Shift changes what a digit or symbol key types ("5" → "%"): match its physical key too.
      match: (ev) => plain(ev) && ev.shiftKey === ck.shift && (ev.key.toLowerCase() === ck.key || (ck.shift && code !== null && ev.code === code)),
      run: () => a.selectCategory(cat.id),
    });
  }
  // Reserved bindings come first in the list, so they win over a colliding bare hotkey.
  return b;
}

/** Input types that take typed text: keys there belong to the field, not to the editor. */
const TEXT_INPUT_TYPES = new Set(["text", "number", "search", "email", "password", "url", "tel", "date", "datetime-local", "month", "time", "week"]);

/**
 * Typing in a text field must not trigger tools (Ctrl+S and Ctrl+Enter still work there).
 * Sliders, checkboxes, radios, buttons and selects are not text fields: after using one,
 * the editor's keys keep working (the editor stops their own reaction to a key it uses).
 */
export function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as { tagName?: unknown; type?: unknown; isContentEditable?: unknown } | null;
  if (!el || typeof el.tagName !== "string") return false;
  if (el.isContentEditable === true) return true;
  const tag = el.tagName.toUpperCase();
  if (tag === "TEXTAREA") return true;
  if (tag !== "INPUT") return false;
  return TEXT_INPUT_TYPES.has(String(el.type ?? "text").toLowerCase());
}
