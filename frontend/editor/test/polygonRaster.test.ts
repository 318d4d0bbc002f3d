import { describe, expect, it } from "vitest";
import { forEachRleColumnRun, rleFromPolygon } from "../src/geometry/polygonRaster";
import { readJsonFixture } from "./helpers";

interface PolygonCase {
  name: string;
  polygon: number[];
  height: number;
  width: number;
  counts: number[];
  area: number;
}

const { cases } = readJsonFixture<{ cases: PolygonCase[] }>("polygon_cases.json");

function maskFromCounts(counts: number[], h: number, w: number): Uint8Array {
  const m = new Uint8Array(h * w); // row-major
  forEachRleColumnRun(counts, h, (x, y0, y1) => {
    for (let y = y0; y <= y1; y++) m[y * w + x] = 1;
  });
  return m;
}

describe("polygon fill matches pycocotools rleFrPoly", () => {
  it("has enough shared cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s: identical pixels", (_name, c) => {
    const counts = rleFromPolygon(c.polygon, c.height, c.width);
    const got = maskFromCounts(counts, c.height, c.width);
    const want = maskFromCounts(c.counts, c.height, c.width);
    const diff: string[] = [];
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== want[i]) diff.push(`(${i % c.width},${Math.floor(i / c.width)})`);
    }
    expect(diff).toEqual([]);
    expect(got.reduce((a, b) => a + b, 0)).toBe(c.area);
  });
});

describe("forEachRleColumnRun", () => {
  it("splits runs that wrap over column ends", () => {
    const runs: Array<[number, number, number]> = [];
    // h = 3: zeros 2, ones 4 → (0,2)…(1,2)
    forEachRleColumnRun([2, 4, 3], 3, (x, y0, y1) => runs.push([x, y0, y1]));
    expect(runs).toEqual([
      [0, 2, 2],
      [1, 0, 2],
    ]);
  });
});
