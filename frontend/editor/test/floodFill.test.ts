import { describe, expect, it } from "vitest";
import { floodFill } from "../src/geometry/floodFill";
import { LabelMap, newGuard } from "../src/model/labelMap";
import { mapFromRows, rowsOf } from "./helpers";

function allowAll(): Uint8Array {
  return newGuard().fill(1);
}

describe("flood fill", () => {
  it("fills the 4-connected region only (diagonals do not connect)", () => {
    const map = mapFromRows(["00100", "00100", "11011", "00100"]);
    floodFill(map, 0, 0, 5, allowAll());
    expect(rowsOf(map)).toEqual(["55100", "55100", "11011", "00100"]);
  });

  it("stops at image boundaries and fills a whole empty image", () => {
    const map = mapFromRows(["000", "000"]);
    expect(floodFill(map, 2, 1, 3, allowAll())).toBe(6);
    expect(rowsOf(map)).toEqual(["333", "333"]);
  });

  it("follows a spiral that needs runs pushed above and below", () => {
    const map = mapFromRows(["1111111", "1000001", "1011101", "1010101", "1010001", "1011111", "1111111"]);
    floodFill(map, 3, 3, 2, allowAll());
    expect(rowsOf(map)).toEqual(["1111111", "1222221", "1211121", "1212121", "1212221", "1211111", "1111111"]);
  });

  it("does nothing on a locked segment and never leaks into it", () => {
    const map = mapFromRows(["0110", "0120", "0110"]);
    const guard = allowAll();
    guard[1] = 0; // segment 1 locked
    expect(floodFill(map, 1, 0, 3, guard)).toBe(0);
    floodFill(map, 0, 0, 3, guard);
    expect(rowsOf(map)).toEqual(["3110", "3120", "3110"]);
  });

  it("is a no-op when the region already has the value", () => {
    const map = mapFromRows(["22", "22"]);
    expect(floodFill(map, 0, 0, 2, allowAll())).toBe(0);
  });

  it("handles a 2000×2000 region without recursion", () => {
    const big = new LabelMap(2000, 2000);
    // Vertical comb: worst case for naive recursion depth.
    for (let x = 1; x < 2000; x += 2) for (let y = x % 4 === 1 ? 0 : 1; y < (x % 4 === 1 ? 1999 : 2000); y++) big.data[y * 2000 + x] = 9;
    big.recountAreas();
    const before = big.area[0]!;
    expect(floodFill(big, 0, 0, 4, allowAll())).toBe(before);
    expect(big.area[0]).toBe(0);
    expect(big.area[4]).toBe(before);
  });
});
