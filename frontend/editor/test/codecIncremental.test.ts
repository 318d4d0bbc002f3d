import { describe, expect, it } from "vitest";
import { decodeGrayPng, filterImage, IncrementalFilter, pngFromFiltered } from "../src/codec/png";
import { applyTiles, packTiles, patchRows } from "../src/io/tilePatch";
import { makeDoc } from "./fixtures";
import { sameArray } from "./helpers";

describe("tile patches and incremental filtering (the worker's save path)", () => {
  it("a mirror patched with changed tiles equals the map, and its PNG decodes to it", async () => {
    const doc = makeDoc(700, 530);
    const mirror = doc.map.data.slice();
    const filter = new IncrementalFilter(700, 530);
    filter.update(mirror, 8, null);
    const changed = new Set<number>();
    doc.map.addDirtyListener((tx0, ty0, tx1, ty1) => {
      for (let ty = ty0; ty <= ty1; ty++) for (let tx = tx0; tx <= tx1; tx++) changed.add(ty * doc.map.tilesX + tx);
    });
    doc.selectCategory(20);
    doc.beginStroke(false);
    doc.strokeTo({ x: 20, y: 500 }, { x: 680, y: 260 }, 9);
    doc.endStroke();
    doc.selectCategory(10);
    doc.fillAt(0, 0);
    const patch = packTiles(doc.map.data, 700, 530, [...changed]);
    const rows = patchRows(patch, 700, 530);
    applyTiles(mirror, 700, 530, patch);
    expect(sameArray(mirror, doc.map.data)).toBe(true);
    const filtered = filter.update(mirror, 8, rows);
    expect(sameArray(filtered, filterImage(mirror, 700, 530, 8, "auto"))).toBe(true);
    const png = await pngFromFiltered(filtered, 700, 530, 8);
    expect(sameArray((await decodeGrayPng(png)).data, doc.map.data)).toBe(true);
  });

  it("re-filters correctly when the changed rows span the whole image", () => {
    const w = 50;
    const h = 300; // two tile rows
    const data = new Uint16Array(w * h);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 13;
    const filter = new IncrementalFilter(w, h);
    filter.update(data, 8, null);
    for (let i = 0; i < data.length; i++) data[i] = (i * 3) % 5;
    expect(sameArray(filter.update(data, 8, [[0, 256], [256, 300]]), filterImage(data, w, h, 8, "auto"))).toBe(true);
  });

  it("switches to a full 16-bit filtering when ids pass 255", () => {
    const data = new Uint16Array(64 * 40);
    const filter = new IncrementalFilter(64, 40);
    filter.update(data, 8, null);
    data[5] = 300;
    expect(sameArray(filter.update(data, 16, [[0, 1]]), filterImage(data, 64, 40, 16, "auto"))).toBe(true);
  });
});
