import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { LabelPngEncoder } from "../src/codec/labelPng";
import { decodeGrayPng } from "../src/codec/png";
import { applyTiles, applyTilesTracked, packTiles } from "../src/io/tilePatch";
import { makeDoc } from "./fixtures";
import { sameArray } from "./helpers";

describe("tile patches and incremental encoding (the worker's save path)", () => {
  it("a mirror patched with changed tiles equals the map, and its PNG decodes to it", async () => {
    const doc = makeDoc(700, 530);
    const mirror = doc.map.data.slice();
    const encoder = new LabelPngEncoder(700, 530);
    encoder.encode(mirror, 8);
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
    const rows = new Set<number>();
    applyTilesTracked(mirror, 700, 530, patch, (y) => {
      rows.add(y);
      encoder.rowChanged(y);
    });
    expect(sameArray(mirror, doc.map.data)).toBe(true);
    const png = encoder.encode(mirror, 8);
    expect(sameArray((await decodeGrayPng(png)).data, doc.map.data)).toBe(true);
    // Byte for byte what a fresh encoder writes: the cached rows are exactly right.
    expect(sameArray(png, new LabelPngEncoder(700, 530).encode(mirror, 8))).toBe(true);
  });

  it("reports only the rows a patch really changes", () => {
    const w = 300;
    const h = 300;
    const map = new Uint16Array(w * h).fill(3);
    const mirror = map.slice();
    for (let x = 10; x < 20; x++) map[40 * w + x] = 7; // row 40 (tile 0)
    map[270 * w + 299] = 9; // row 270 (tile 3)
    const patch = packTiles(map, w, h, [0, 1, 2, 3]);
    const rows: number[] = [];
    applyTilesTracked(mirror, w, h, patch, (y) => rows.push(y));
    expect(rows).toEqual([40, 270]);
    expect(sameArray(mirror, map)).toBe(true);
    const copy = new Uint16Array(w * h).fill(3);
    applyTiles(copy, w, h, patch);
    expect(sameArray(copy, map)).toBe(true);
  });

  it("re-encodes correctly when every row changes, and when ids pass 255 (8 → 16 bit)", () => {
    const w = 50;
    const h = 300;
    const data = new Uint16Array(w * h);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 13;
    const enc = new LabelPngEncoder(w, h);
    enc.encode(data, 8);
    for (let i = 0; i < data.length; i++) data[i] = (i * 3) % 5;
    enc.rowsChanged(0, h);
    expect(sameArray(enc.encode(data, 8), new LabelPngEncoder(w, h).encode(data, 8))).toBe(true);
    data[5] = 300;
    enc.rowChanged(0);
    const png16 = enc.encode(data, 16);
    expect(png16[24]).toBe(16);
    const raw = inflateSync(png16.subarray(41, png16.length - 16));
    expect(raw.length).toBe((2 * w + 1) * h);
    expect(sameArray(png16, new LabelPngEncoder(w, h).encode(data, 16))).toBe(true);
  });
});
