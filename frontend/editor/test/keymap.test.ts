import { describe, expect, it } from "vitest";
import { buildKeyBindings, type EditorActions } from "../src/input/keymap";
import { TAXONOMY } from "./fixtures";

function key(k: string, mods: Partial<Pick<KeyboardEvent, "ctrlKey" | "shiftKey" | "altKey" | "metaKey">> = {}): KeyboardEvent {
  // Node has no KeyboardEvent; the bindings only read these fields.
  return { key: k, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods } as KeyboardEvent;
}

function recorder(): { calls: string[]; actions: EditorActions } {
  const calls: string[] = [];
  const rec =
    (name: string) =>
    (...args: unknown[]) =>
      calls.push([name, ...args].join(":"));
  const actions: EditorActions = {
    setTool: rec("tool"),
    growBrush: rec("grow"),
    selectCategory: rec("category"),
    newInstance: rec("new"),
    undo: rec("undo"),
    redo: rec("redo"),
    save: rec("save"),
    submit: rec("submit"),
    fit: rec("fit"),
    toggleHelp: rec("help"),
    toggleDrawOrder: rec("order"),
    toggleCut: rec("cut"),
    toggleOutline: rec("outline"),
  };
  return { calls, actions };
}

function press(ev: KeyboardEvent): string[] {
  const { calls, actions } = recorder();
  const binding = buildKeyBindings(actions, TAXONOMY.categories).find((b) => b.match(ev));
  binding?.run();
  return calls;
}

describe("key bindings", () => {
  it.each([
    [key("b"), "tool:brush"],
    [key("e"), "tool:eraser"],
    [key("p"), "tool:polygon"],
    [key("f"), "tool:fill"],
    [key("["), "grow:0.8"],
    [key("]"), "grow:1.25"],
    [key("n"), "new"],
    [key("1"), "category:10"],
    [key("3"), "category:30"],
    [key("z", { ctrlKey: true }), "undo"],
    [key("Z", { ctrlKey: true, shiftKey: true }), "redo"],
    [key("s", { ctrlKey: true }), "save"],
    [key("Enter", { ctrlKey: true }), "submit"],
    [key("0"), "fit"],
    [key("?", { shiftKey: true }), "help"],
  ])("%o → %s", (ev, want) => {
    expect(press(ev)).toEqual([want]);
  });

  it("a category hotkey that collides with a tool key needs Shift", () => {
    // person's hotkey is "p", which is the polygon tool
    expect(press(key("p"))).toEqual(["tool:polygon"]);
    expect(press(key("P", { shiftKey: true }))).toEqual(["category:20"]);
  });
});
