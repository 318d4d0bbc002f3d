import { describe, expect, it } from "vitest";
import { polygonsFromApi, recordsFromApi, segmentsForSave } from "../src/io/revisionIo";
import { TILE } from "../src/model/labelMap";
import { makeDoc } from "./fixtures";

/** Fast byte equality: toEqual on million-element typed arrays is far too slow. */
function same(a: Uint16Array, b: Uint16Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function paintDisc(doc: ReturnType<typeof makeDoc>, x: number, y: number, r: number): number {
  const res = doc.beginStroke(false);
  if (!res.ok) throw new Error(res.reason);
  doc.strokeTo({ x, y }, { x, y }, r);
  doc.endStroke();
  return doc.activeSegment;
}

describe("undo / redo", () => {
  it("restores the exact bytes of touched tiles, and redo re-applies them", () => {
    const doc = makeDoc(700, 500);
    doc.selectCategory(20);
    paintDisc(doc, 100, 100, 30);
    const before = doc.map.data.slice();
    doc.beginStroke(false);
    doc.strokeTo({ x: 90, y: 90 }, { x: 600, y: 400 }, 25);
    doc.endStroke();
    const after = doc.map.data.slice();
    expect(same(after, before)).toBe(false);
    doc.undo();
    expect(same(doc.map.data, before)).toBe(true);
    doc.redo();
    expect(same(doc.map.data, after)).toBe(true);
  });

  it("keeps areas exact through undo and redo", () => {
    const doc = makeDoc(300, 300);
    doc.selectCategory(20);
    const a = paintDisc(doc, 100, 100, 40);
    doc.startNewInstance();
    const b = paintDisc(doc, 130, 100, 40);
    const areaA = doc.area(a);
    doc.undo();
    expect(doc.area(b)).toBe(0);
    expect(doc.area(a)).toBeGreaterThan(areaA);
    doc.redo();
    expect(doc.area(a)).toBe(areaA);
    const counts = new Map<number, number>();
    for (const v of doc.map.data) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect(doc.area(b)).toBe(counts.get(b));
    expect(doc.area(0)).toBe(counts.get(0));
  });

  it("undoes segment creation and deletion along with the pixels", () => {
    const doc = makeDoc(100, 100);
    doc.selectCategory(30);
    const id = paintDisc(doc, 50, 50, 10);
    expect(doc.table.has(id)).toBe(true);
    doc.deleteSegment(id);
    expect(doc.table.has(id)).toBe(false);
    expect(doc.area(id)).toBe(0);
    doc.undo();
    expect(doc.table.get(id)?.categoryId).toBe(30);
    expect(doc.area(id)).toBeGreaterThan(0);
    doc.undo();
    expect(doc.table.has(id)).toBe(false);
  });

  it("drops the oldest steps when the byte cap is exceeded, not a step count", () => {
    const tileBytes = TILE * TILE * 2; // the "before" copy of one full tile
    const doc = makeDoc(1024, 1024, "panoptic", tileBytes * 3 + 10_000);
    doc.selectCategory(20);
    // Each dab touches one tile far from the others.
    const centres = [
      [100, 100],
      [400, 100],
      [700, 100],
      [100, 400],
      [400, 400],
    ];
    const snapshots: Uint16Array[] = [doc.map.data.slice()];
    for (const [x, y] of centres) {
      doc.startNewInstance();
      paintDisc(doc, x!, y!, 20);
      snapshots.push(doc.map.data.slice());
    }
    expect(doc.history.bytes).toBeLessThanOrEqual(doc.history.capBytes);
    expect(doc.history.undoDepth).toBe(3);
    // Undo captures each step's "after" tiles (for redo): the cap holds through that too,
    // by dropping the oldest undo steps; what is undone stays exact.
    let undone = 0;
    while (doc.undo()) {
      undone++;
      expect(doc.history.bytes).toBeLessThanOrEqual(doc.history.capBytes);
      expect(same(doc.map.data, snapshots[5 - undone])).toBe(true);
    }
    expect(undone).toBeGreaterThanOrEqual(1);
    expect(undone).toBeLessThan(3);
    // The step just undone can always be redone, exactly.
    expect(doc.redo()).toBe(true);
    expect(same(doc.map.data, snapshots[6 - undone])).toBe(true);
  });

  it("keeps the cap when undo adds the after-tiles: farthest redo steps go, the nearest stays", () => {
    const tileBytes = TILE * TILE * 2;
    const doc = makeDoc(1024, 1024, "panoptic", tileBytes * 2 + 10_000);
    doc.selectCategory(20);
    const snapshots: Uint16Array[] = [doc.map.data.slice()];
    for (const [x, y] of [
      [100, 100],
      [400, 100],
    ]) {
      doc.startNewInstance();
      paintDisc(doc, x!, y!, 20);
      snapshots.push(doc.map.data.slice());
    }
    expect(doc.history.undoDepth).toBe(2);
    expect(doc.undo()).toBe(true); // +1 tile of "after": over the cap → the older undo step goes
    expect(doc.history.bytes).toBeLessThanOrEqual(doc.history.capBytes);
    expect(doc.history.undoDepth).toBe(0);
    expect(doc.history.redoDepth).toBe(1);
    expect(same(doc.map.data, snapshots[1])).toBe(true);
    expect(doc.redo()).toBe(true);
    expect(same(doc.map.data, snapshots[2])).toBe(true);
  });

  it("redo stack is cleared by a new edit", () => {
    const doc = makeDoc(64, 64);
    doc.selectCategory(10);
    paintDisc(doc, 10, 10, 3);
    doc.undo();
    paintDisc(doc, 40, 40, 3);
    expect(doc.redo()).toBe(false);
  });
});

describe("draw over / draw behind", () => {
  it("behind never overwrites pixels owned by another segment", () => {
    const doc = makeDoc(200, 200);
    doc.selectCategory(20);
    const person = paintDisc(doc, 100, 100, 30);
    const owned = doc.map.data.map((v) => (v === person ? 1 : 0));
    doc.order = "behind";
    doc.selectCategory(10);
    const road = paintDisc(doc, 100, 100, 60);
    for (let i = 0; i < owned.length; i++) if (owned[i]) expect(doc.map.data[i]).toBe(person);
    expect(doc.area(road)).toBeGreaterThan(0);
    doc.order = "over";
    doc.selectCategory(10);
    paintDisc(doc, 100, 100, 60);
    expect(doc.area(person)).toBe(0);
  });

  it("locked and hidden segments are never overwritten, in any mode or tool", () => {
    const doc = makeDoc(120, 120);
    doc.selectCategory(20);
    const locked = paintDisc(doc, 30, 30, 15);
    doc.startNewInstance();
    const hidden = paintDisc(doc, 90, 90, 15);
    doc.setLocked(locked, true);
    doc.setHidden(hidden, true);
    const lockedArea = doc.area(locked);
    const hiddenArea = doc.area(hidden);
    doc.selectCategory(10);
    paintDisc(doc, 60, 60, 100); // brush over everything
    doc.beginStroke(true); // eraser over everything
    doc.strokeTo({ x: 0, y: 0 }, { x: 120, y: 120 }, 200);
    doc.endStroke();
    doc.selectCategory(30);
    doc.fillAt(30, 30); // fill on the locked segment
    doc.fillAt(5, 115);
    doc.selectSegment(locked);
    // A cut on a locked segment is refused with a reason the editor shows, not silently ignored.
    const cut = doc.fillPolygon([0, 0, 120, 0, 120, 120, 0, 120], true);
    expect(cut).toEqual({ ok: false, reason: expect.stringContaining("locked") });
    expect(doc.table.get(locked)?.polygons).toEqual([]);
    expect(doc.area(locked)).toBe(lockedArea);
    expect(doc.area(hidden)).toBe(hiddenArea);
  });

  it("eraser in behind mode only removes the active segment", () => {
    const doc = makeDoc(100, 100);
    doc.selectCategory(10);
    const road = paintDisc(doc, 30, 50, 20);
    doc.selectCategory(30);
    const car = paintDisc(doc, 70, 50, 20);
    doc.order = "behind";
    doc.selectSegment(car);
    doc.beginStroke(true);
    doc.strokeTo({ x: 0, y: 50 }, { x: 100, y: 50 }, 5);
    doc.endStroke();
    expect(doc.map.getLabel(30, 50)).toBe(road);
    expect(doc.map.getLabel(70, 50)).toBe(0);
  });
});

describe("polygon tool semantics", () => {
  it("fills and can cut a hole in the current segment", () => {
    const doc = makeDoc(50, 50);
    doc.selectCategory(30);
    doc.fillPolygon([5, 5, 45, 5, 45, 45, 5, 45], false);
    const id = doc.activeSegment;
    expect(doc.area(id)).toBe(40 * 40);
    expect(doc.table.get(id)?.polygons).toEqual([{ vertices: [5, 5, 45, 5, 45, 45, 5, 45], cut: false }]);
    doc.fillPolygon([15, 15, 25, 15, 25, 25, 15, 25], true);
    expect(doc.area(id)).toBe(40 * 40 - 100);
    expect(doc.map.getLabel(20, 20)).toBe(0);
    // The hole is recorded on the segment it was cut into, after the fill, and undo drops it.
    expect(doc.table.get(id)?.polygons).toEqual([
      { vertices: [5, 5, 45, 5, 45, 45, 5, 45], cut: false },
      { vertices: [15, 15, 25, 15, 25, 25, 15, 25], cut: true },
    ]);
    doc.undo();
    expect(doc.table.get(id)?.polygons).toHaveLength(1);
    expect(doc.area(id)).toBe(40 * 40);
  });

  it("a cut that removes nothing is refused and recorded nowhere", () => {
    const doc = makeDoc(50, 50);
    doc.selectCategory(30);
    doc.fillPolygon([5, 5, 20, 5, 20, 20, 5, 20], false);
    const id = doc.activeSegment;
    const depth = doc.history.undoDepth;
    expect(doc.fillPolygon([30, 30, 45, 30, 45, 45], true)).toEqual({ ok: false, reason: expect.stringContaining("nothing to cut") });
    expect(doc.table.get(id)?.polygons).toHaveLength(1);
    expect(doc.history.undoDepth).toBe(depth);
  });

  it("polygons survive the API round trip: fill rings as lists, cut rings as objects", () => {
    const doc = makeDoc(50, 50);
    doc.selectCategory(30);
    doc.fillPolygon([5, 5, 45, 5, 45, 45, 5, 45], false);
    doc.fillPolygon([15, 15, 25, 15, 25, 25, 15, 25], true);
    const out = segmentsForSave(doc);
    expect(out[0]!.polygons).toEqual([
      [5, 5, 45, 5, 45, 45, 5, 45],
      { vertices: [15, 15, 25, 15, 25, 25, 15, 25], cut: true },
    ]);
    const back = recordsFromApi([{ id: 1, category_id: 30, iscrowd: false, confirmed: true, polygons: out[0]!.polygons }]);
    expect(back[0]!.polygons).toEqual(doc.table.get(out[0]!.id)!.polygons);
    // Shapes outside the contract are dropped, not guessed at.
    expect(polygonsFromApi([[1, 2, 3, 4, 5, 6], { vertices: "x" }, "junk", { vertices: [1, 1, 2, 2, 3, 1] }])).toEqual([
      { vertices: [1, 2, 3, 4, 5, 6], cut: false },
      { vertices: [1, 1, 2, 2, 3, 1], cut: false },
    ]);
    expect(polygonsFromApi(undefined)).toEqual([]);
  });

  it("merging a segment into another carries its polygons along", () => {
    const doc = makeDoc(50, 50);
    doc.selectCategory(10);
    doc.fillPolygon([0, 0, 10, 0, 10, 10], false);
    const road = doc.activeSegment;
    doc.selectCategory(30);
    doc.fillPolygon([20, 20, 40, 20, 40, 40], false);
    const car = doc.activeSegment;
    expect(doc.setCategory(car, 10).ok).toBe(true); // road is stuff: one segment, car merges in
    expect(doc.table.has(car)).toBe(false);
    expect(doc.table.get(road)?.polygons.map((p) => p.vertices[0])).toEqual([0, 20]);
  });
});

describe("segments per mode", () => {
  it("stuff classes keep one segment; n starts a new thing instance", () => {
    const doc = makeDoc(100, 100, "panoptic");
    doc.selectCategory(10);
    const a = paintDisc(doc, 10, 10, 3);
    expect(doc.startNewInstance()).toBe(false);
    const b = paintDisc(doc, 50, 50, 3);
    expect(b).toBe(a);
    doc.selectCategory(20);
    const p1 = paintDisc(doc, 20, 80, 3);
    const p1again = paintDisc(doc, 30, 80, 3);
    expect(p1again).toBe(p1);
    expect(doc.startNewInstance()).toBe(true);
    const p2 = paintDisc(doc, 80, 80, 3);
    expect(p2).not.toBe(p1);
  });

  it("semantic mode has exactly one segment per category, also after a category change", () => {
    const doc = makeDoc(100, 100, "semantic");
    doc.selectCategory(20);
    const person = paintDisc(doc, 20, 20, 5);
    expect(doc.startNewInstance()).toBe(false);
    doc.selectCategory(30);
    const car = paintDisc(doc, 70, 70, 5);
    doc.setCategory(car, 20);
    expect(doc.table.ofCategory(20).map((s) => s.id)).toEqual([person]);
    expect(doc.map.getLabel(70, 70)).toBe(person);
  });

  it("editing a pre-labelled segment confirms it", () => {
    const doc = makeDoc(40, 40);
    const seg = doc.table.create(20, { confirmed: false, source: "model" });
    doc.selectSegment(seg.id);
    paintDisc(doc, 20, 20, 4);
    expect(doc.table.get(seg.id)?.confirmed).toBe(true);
    doc.undo();
    expect(doc.table.get(seg.id)?.confirmed).toBe(false);
  });
});

describe("tile dirty tracking", () => {
  it("reports only the tiles a write touched (plus the 1-pixel outline margin)", () => {
    const doc = makeDoc(1000, 700);
    const dirty = new Set<string>();
    doc.map.addDirtyListener((tx0, ty0, tx1, ty1) => {
      for (let ty = ty0; ty <= ty1; ty++) for (let tx = tx0; tx <= tx1; tx++) dirty.add(`${tx},${ty}`);
    });
    doc.selectCategory(20);
    paintDisc(doc, 300, 300, 10); // inside tile (1,1)
    expect([...dirty]).toEqual(["1,1"]);
    dirty.clear();
    paintDisc(doc, 512, 200, 4); // straddles tiles (1,0) and (2,0)
    expect([...dirty].sort()).toEqual(["1,0", "2,0"]);
    dirty.clear();
    paintDisc(doc, 300, 300, 10); // same pixels again: nothing changes, nothing dirty
    expect(dirty.size).toBe(0);
  });

  it("a history step stores only the tiles it touched", () => {
    const doc = makeDoc(2048, 2048);
    doc.selectCategory(20);
    paintDisc(doc, 900, 900, 20);
    const afterFirst = doc.history.bytes; // includes the new segment's table record
    paintDisc(doc, 910, 900, 20); // same segment, same tile: pixels only
    expect(doc.history.bytes - afterFirst).toBe(TILE * TILE * 2); // "before" only, until undone
    doc.undo();
    expect(doc.history.bytes - afterFirst).toBe(TILE * TILE * 2 * 2); // now "after" too
  });
});
