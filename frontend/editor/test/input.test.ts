/**
 * Input without a browser: which targets swallow keys, layout-independent bracket and
 * shifted hotkeys, the polygon tool's keys, pointer routing (coalesced samples, pan, click)
 * and the viewport's zoom/fit arithmetic. Node has no DOM: events are plain objects with the
 * fields the code reads.
 */
import { describe, expect, it } from "vitest";
import { buildKeyBindings, categoryKey, codeForKey, type EditorActions, isTypingTarget } from "../src/input/keymap";
import { PointerInput, type PointerInputHost } from "../src/input/pointerInput";
import type { Category } from "../src/model/taxonomy";
import { PolygonTool } from "../src/tools/polygonTool";
import type { ImagePoint, Tool, ToolContext } from "../src/tools/tool";
import { Viewport } from "../src/view/viewport";
import { makeDoc, TAXONOMY } from "./fixtures";

type Mods = Partial<Pick<KeyboardEvent, "ctrlKey" | "shiftKey" | "altKey" | "metaKey" | "code">> & { altGraph?: boolean };

function key(k: string, mods: Mods = {}): KeyboardEvent {
  const { altGraph = false, ...rest } = mods;
  return {
    key: k,
    code: "",
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    metaKey: false,
    getModifierState: (m: string) => m === "AltGraph" && altGraph,
    ...rest,
  } as unknown as KeyboardEvent;
}

function run(ev: KeyboardEvent, categories: Category[] = TAXONOMY.categories): string[] {
  const calls: string[] = [];
  const rec =
    (name: string) =>
    (...args: unknown[]) =>
      calls.push([name, ...args].join(":"));
  const actions = new Proxy({}, { get: (_t, name: string) => rec(name) }) as EditorActions;
  buildKeyBindings(actions, categories)
    .find((b) => b.match(ev))
    ?.run();
  return calls;
}

describe("which focused elements keep the editor's keys", () => {
  it("text fields keep their keys; sliders, checkboxes, selects and buttons do not", () => {
    expect(isTypingTarget({ tagName: "TEXTAREA" } as unknown as EventTarget)).toBe(true);
    expect(isTypingTarget({ tagName: "INPUT", type: "text" } as unknown as EventTarget)).toBe(true);
    expect(isTypingTarget({ tagName: "INPUT", type: "number" } as unknown as EventTarget)).toBe(true);
    expect(isTypingTarget({ tagName: "INPUT", type: "search" } as unknown as EventTarget)).toBe(true);
    expect(isTypingTarget({ tagName: "DIV", isContentEditable: true } as unknown as EventTarget)).toBe(true);
    for (const type of ["range", "checkbox", "radio", "button", "submit", "color"]) {
      expect(isTypingTarget({ tagName: "INPUT", type } as unknown as EventTarget)).toBe(false);
    }
    expect(isTypingTarget({ tagName: "SELECT" } as unknown as EventTarget)).toBe(false);
    expect(isTypingTarget({ tagName: "BUTTON" } as unknown as EventTarget)).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});

describe("layout-independent keys", () => {
  it("[ and ] work typed with AltGr (German, French…) and by their physical key", () => {
    expect(run(key("["))).toEqual(["growBrush:0.8"]);
    expect(run(key("]", { ctrlKey: true, altKey: true, altGraph: true }))).toEqual(["growBrush:1.25"]);
    expect(run(key("ü", { code: "BracketLeft" }))).toEqual(["growBrush:0.8"]);
    expect(run(key("+", { code: "BracketRight" }))).toEqual(["growBrush:1.25"]);
    // Ctrl+[ without AltGr is not the brush key.
    expect(run(key("[", { ctrlKey: true }))).toEqual([]);
  });

  it("a digit hotkey that needs Shift matches the digit key (Shift+5 types % on a US layout)", () => {
    const cats: Category[] = [{ id: 77, name: "pole", color: "#999999", isthing: false, definition: "", min_area: 0, hotkey: "5", examples: [] }];
    expect(categoryKey(cats[0]!)).toEqual({ key: "5", shift: true });
    expect(run(key("%", { shiftKey: true, code: "Digit5" }), cats)).toEqual(["selectCategory:77"]);
    expect(run(key("5"), cats)).toEqual([]); // plain 5 picks the fifth category (none here)
    expect(codeForKey("p")).toBe("KeyP");
    expect(codeForKey("[")).toBe("BracketLeft");
  });

  it("'?' cannot be a category hotkey (it is the help key)", () => {
    expect(categoryKey({ id: 1, name: "x", color: "#000000", isthing: false, definition: "", min_area: 0, hotkey: "?", examples: [] })).toBeNull();
  });
});

function toolContext(vp = new Viewport(200, 100)) {
  const doc = makeDoc(200, 100);
  const notes: string[] = [];
  let previews = 0;
  const ctx: ToolContext = {
    doc,
    viewport: vp,
    settings: { brushSize: 10, cut: false },
    notify: (m) => notes.push(m),
    requestPreview: () => previews++,
  };
  return { doc, ctx, notes, previews: () => previews };
}

const down = (altKey = false) => ({ altKey }) as PointerEvent;

describe("polygon tool keys", () => {
  it("Enter closes and fills, Backspace removes the last vertex, Escape cancels", () => {
    const { doc, ctx } = toolContext();
    doc.selectCategory(30);
    const tool = new PolygonTool(ctx);
    expect(tool.keyDown(key("Enter"))).toBe(false); // nothing to close: Enter is not consumed
    for (const [x, y] of [
      [10, 10],
      [60, 10],
      [60, 60],
      [10, 60],
    ]) tool.pointerDown({ x: x!, y: y! }, down());
    expect(tool.vertexCount).toBe(4);
    expect(tool.keyDown(key("Backspace"))).toBe(true);
    expect(tool.vertexCount).toBe(3); // the triangle 10,10 · 60,10 · 60,60
    expect(tool.keyDown(key("Enter"))).toBe(true);
    expect(tool.vertexCount).toBe(0);
    const id = doc.activeSegment;
    expect(doc.map.getLabel(50, 20)).toBe(id); // inside the triangle
    expect(doc.map.getLabel(20, 50)).toBe(0); // where the removed vertex was
    expect(doc.table.get(id)?.polygons).toEqual([{ vertices: [10, 10, 60, 10, 60, 60], cut: false }]);

    tool.pointerDown({ x: 100, y: 10 }, down());
    tool.pointerDown({ x: 150, y: 10 }, down());
    expect(tool.keyDown(key("Escape"))).toBe(true);
    expect(tool.vertexCount).toBe(0);
    expect(tool.keyDown(key("Escape"))).toBe(false); // nothing left to cancel
    expect(doc.map.getLabel(120, 12)).toBe(0);
  });

  it("a click near the first vertex closes it; fewer than 3 vertices is refused with a message", () => {
    const vp = new Viewport(200, 100);
    vp.set({ scale: 2, offsetX: 0, offsetY: 0 });
    const { doc, ctx, notes } = toolContext(vp);
    doc.selectCategory(30);
    const tool = new PolygonTool(ctx);
    tool.pointerDown({ x: 10, y: 10 }, down());
    tool.pointerDown({ x: 50, y: 10 }, down());
    expect(tool.close()).toBe(false);
    expect(notes).toEqual(["A polygon needs at least 3 vertices"]);
    tool.pointerDown({ x: 50, y: 50 }, down());
    // 3 image px from the first vertex = 6 screen px at scale 2: within the 8 px radius.
    tool.pointerDown({ x: 12, y: 12 }, down());
    expect(tool.vertexCount).toBe(0);
    expect(doc.map.getLabel(40, 20)).toBe(doc.activeSegment);
  });

  it("Alt while clicking cuts a hole into the current segment", () => {
    const { doc, ctx } = toolContext();
    doc.selectCategory(30);
    doc.fillPolygon([0, 0, 100, 0, 100, 100, 0, 100], false);
    const tool = new PolygonTool(ctx);
    for (const [x, y] of [
      [20, 20],
      [40, 20],
      [40, 40],
    ]) tool.pointerDown({ x: x!, y: y! }, down(true));
    expect(tool.keyDown({ ...key("Enter"), altKey: true } as KeyboardEvent)).toBe(true);
    expect(doc.map.getLabel(38, 22)).toBe(0);
    expect(doc.table.get(doc.activeSegment)?.polygons.at(-1)?.cut).toBe(true);
  });
});

/** An element-like stage that records listeners, so events can be dispatched by hand. */
class FakeStage {
  private readonly handlers = new Map<string, Array<(e: unknown) => void>>();
  captured = new Set<number>();
  focused = 0;
  classList = { add: () => {}, remove: () => {} };
  ownerDocument = { activeElement: null };
  addEventListener(type: string, fn: (e: unknown) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), fn]);
  }
  getBoundingClientRect() {
    return { left: 100, top: 50, width: 400, height: 200 } as DOMRect;
  }
  setPointerCapture(id: number) {
    this.captured.add(id);
  }
  releasePointerCapture(id: number) {
    this.captured.delete(id);
  }
  hasPointerCapture(id: number) {
    return this.captured.has(id);
  }
  focus() {
    this.focused++;
  }
  fire(type: string, e: Record<string, unknown>): void {
    const ev = { type, pointerId: 1, button: 0, preventDefault: () => {}, ...e };
    for (const fn of this.handlers.get(type) ?? []) fn(ev);
  }
}

function recordingTool(): Tool & { log: string[] } {
  const log: string[] = [];
  const fmt = (p: ImagePoint) => `${p.x},${p.y}`;
  return {
    id: "brush",
    cursor: "none",
    log,
    pointerDown: (p) => log.push(`down ${fmt(p)}`),
    pointerMove: (samples) => log.push(`move [${samples.map(fmt).join(" ")}]`),
    pointerUp: (p) => log.push(`up ${fmt(p)}`),
    keyDown: () => false,
    cancel: () => {},
    drawPreview: () => {},
  };
}

function pointerSetup(tool: Tool | null, space = false) {
  const stage = new FakeStage();
  const vp = new Viewport(1000, 1000);
  vp.set({ scale: 2, offsetX: 0, offsetY: 0 });
  const clicks: string[] = [];
  const hovers: Array<ImagePoint | null> = [];
  const host: PointerInputHost = {
    viewport: vp,
    activeTool: () => tool,
    measure: (fn) => fn(),
    hover: (p) => hovers.push(p),
    click: (p) => clicks.push(`${p.x},${p.y}`),
    spaceHeld: () => space,
  };
  new PointerInput(stage as unknown as HTMLElement, host);
  return { stage, vp, clicks, hovers };
}

describe("pointer routing", () => {
  it("delivers every coalesced sample of a move, in image coordinates, and focuses the stage", () => {
    const tool = recordingTool();
    const { stage } = pointerSetup(tool);
    stage.fire("pointerdown", { clientX: 120, clientY: 70 });
    expect(stage.focused).toBe(1);
    const coalesced = [
      { clientX: 130, clientY: 70 },
      { clientX: 140, clientY: 74 },
      { clientX: 150, clientY: 80 },
    ];
    stage.fire("pointermove", { clientX: 150, clientY: 80, getCoalescedEvents: () => coalesced });
    stage.fire("pointermove", { clientX: 160, clientY: 90 }); // no coalesced list: the event itself
    stage.fire("pointerup", { clientX: 160, clientY: 90 });
    expect(tool.log).toEqual(["down 10,10", "move [15,10 20,12 25,15]", "move [30,20]", "up 30,20"]);
    expect(stage.captured.size).toBe(0);
  });

  it("moves of another pointer (or hovering) reach the tool without samples", () => {
    const tool = recordingTool();
    const { stage, hovers } = pointerSetup(tool);
    stage.fire("pointermove", { clientX: 140, clientY: 70 });
    expect(tool.log).toEqual(["move []"]);
    expect(hovers.at(-1)).toEqual({ x: 20, y: 10 });
  });

  it("space + drag and the middle button pan instead of drawing", () => {
    const tool = recordingTool();
    const { stage, vp } = pointerSetup(tool, true);
    stage.fire("pointerdown", { clientX: 120, clientY: 70 });
    stage.fire("pointermove", { clientX: 150, clientY: 90 });
    stage.fire("pointerup", { clientX: 150, clientY: 90 });
    expect(tool.log).toEqual([]);
    expect([vp.offsetX, vp.offsetY]).toEqual([30, 20]);
    const mid = pointerSetup(tool);
    mid.stage.fire("pointerdown", { clientX: 120, clientY: 70, button: 1 });
    mid.stage.fire("pointermove", { clientX: 110, clientY: 60 });
    expect([mid.vp.offsetX, mid.vp.offsetY]).toEqual([-10, -10]);
    expect(tool.log).toEqual([]);
  });

  it("without a tool (review mode) a click reaches the host; a drag does not", () => {
    const { stage, clicks } = pointerSetup(null);
    stage.fire("pointerdown", { clientX: 120, clientY: 70 });
    stage.fire("pointerup", { clientX: 121, clientY: 71 });
    stage.fire("pointerdown", { clientX: 120, clientY: 70 });
    stage.fire("pointerup", { clientX: 140, clientY: 90 });
    expect(clicks).toEqual(["10.5,10.5"]);
  });
});

describe("viewport", () => {
  it("fit shows the whole image centred with a margin", () => {
    const vp = new Viewport(1000, 500);
    vp.setStageSize(532, 532);
    vp.fit();
    expect(vp.scale).toBeCloseTo(0.5);
    expect(vp.offsetX).toBeCloseTo(16);
    expect(vp.offsetY).toBeCloseTo((532 - 250) / 2);
  });

  it("zoomAt keeps the image point under the cursor fixed", () => {
    const vp = new Viewport(1000, 1000);
    vp.setStageSize(800, 600);
    vp.set({ scale: 1, offsetX: 10, offsetY: 20 });
    const before = vp.toImage(300, 200);
    vp.zoomAt(300, 200, 3);
    expect(vp.scale).toBe(3);
    const after = vp.toImage(300, 200);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    const s = vp.toStage(after.x, after.y);
    expect(s.x).toBeCloseTo(300);
    expect(s.y).toBeCloseTo(200);
  });
});
