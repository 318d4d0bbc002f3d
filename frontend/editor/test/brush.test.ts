import { describe, expect, it } from "vitest";
import { rasterizeCapsule } from "../src/geometry/capsule";
import { makeDoc } from "./fixtures";

function covered(p0: { x: number; y: number }, p1: { x: number; y: number }, r: number, w = 200, h = 200): Set<string> {
  const s = new Set<string>();
  rasterizeCapsule(p0, p1, r, (y, x0, x1) => {
    for (let x = x0; x <= x1; x++) s.add(`${x},${y}`);
  }, { width: w, height: h });
  return s;
}

function distToSegment(px: number, py: number, a: { x: number; y: number }, b: { x: number; y: number }): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const l2 = dx * dx + dy * dy;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - a.x) * dx + (py - a.y) * dy) / l2));
  return Math.hypot(px - (a.x + t * dx), py - (a.y + t * dy));
}

describe("brush capsule", () => {
  it("covers exactly the pixels whose centre is within the radius of the segment", () => {
    const cases: Array<[{ x: number; y: number }, { x: number; y: number }, number]> = [
      [{ x: 10.3, y: 20.7 }, { x: 150.2, y: 60.1 }, 6.5],
      [{ x: 50, y: 50 }, { x: 50, y: 120 }, 3],
      [{ x: 40, y: 90 }, { x: 160, y: 90 }, 10],
      [{ x: 100, y: 100 }, { x: 100, y: 100 }, 12.2],
      [{ x: 180, y: 10 }, { x: 20, y: 190 }, 1.5],
    ];
    for (const [a, b, r] of cases) {
      const got = covered(a, b, r);
      const wrong: string[] = [];
      for (let y = 0; y < 200; y++) {
        for (let x = 0; x < 200; x++) {
          const d = distToSegment(x + 0.5, y + 0.5, a, b);
          if (Math.abs(d - r) < 1e-9) continue; // exactly on the rim: either answer is fine
          if (got.has(`${x},${y}`) !== d < r) wrong.push(`${x},${y} d=${d} r=${r}`);
        }
      }
      expect(wrong).toEqual([]);
    }
  });

  it("leaves no gaps along a fast stroke (samples 80 px apart, radius 4)", () => {
    const doc = makeDoc(1000, 400);
    doc.selectCategory(20);
    doc.beginStroke(false);
    const pts = [];
    for (let i = 0; i <= 10; i++) pts.push({ x: 50 + i * 80, y: 200 + 120 * Math.sin(i) });
    for (let i = 1; i < pts.length; i++) doc.strokeTo(pts[i - 1]!, pts[i]!, 4);
    doc.endStroke();
    const id = doc.activeSegment;
    // Every point along the polyline has its pixel painted.
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      for (let t = 0; t <= 1; t += 0.002) {
        const x = Math.floor(a.x + (b.x - a.x) * t);
        const y = Math.floor(a.y + (b.y - a.y) * t);
        if (doc.map.getLabel(x, y) !== id) throw new Error(`gap at ${x},${y}`);
      }
    }
  });

  it("clips at the image border without wrapping to the next row", () => {
    const doc = makeDoc(32, 32);
    doc.selectCategory(10);
    doc.beginStroke(false);
    doc.strokeTo({ x: 31, y: 5 }, { x: 31, y: 5 }, 4);
    doc.endStroke();
    for (let y = 0; y < 32; y++) for (let x = 0; x < 20; x++) expect(doc.map.getLabel(x, y)).toBe(0);
    expect(doc.area(doc.activeSegment)).toBeGreaterThan(0);
  });

  it("eraser writes void over the stroke", () => {
    const doc = makeDoc(64, 64);
    doc.selectCategory(10);
    doc.fillAt(0, 0);
    doc.beginStroke(true);
    doc.strokeTo({ x: 0, y: 32 }, { x: 64, y: 32 }, 2);
    doc.endStroke();
    expect(doc.map.getLabel(10, 32)).toBe(0);
    expect(doc.map.getLabel(10, 20)).toBe(doc.activeSegment);
    expect(doc.area(0) + doc.area(doc.activeSegment)).toBe(64 * 64);
  });
});
