import { describe, expect, it } from "vitest";
import { decodeGrayPng, encodeGrayPng, type FilterType } from "../src/codec/png";
import { mulberry32, readFixture, readJsonFixture } from "./helpers";

function randomMap(w: number, h: number, max: number, seed: number): Uint16Array {
  const rnd = mulberry32(seed);
  const d = new Uint16Array(w * h);
  for (let i = 0; i < d.length; i++) d[i] = Math.floor(rnd() * (max + 1));
  return d;
}

/** Blocky map like real label maps: long runs, a few segments. */
function blockyMap(w: number, h: number, ids: number[]): Uint16Array {
  const d = new Uint16Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) d[y * w + x] = ids[(Math.floor(x / 7) + Math.floor(y / 5)) % ids.length]!;
  return d;
}

function ihdr(png: Uint8Array): { bitDepth: number; colorType: number } {
  return { bitDepth: png[24]!, colorType: png[25]! };
}

const FILTERS: FilterType[] = [0, 1, 2, 3, 4];

describe("PNG encode → decode round trip", () => {
  it.each(FILTERS)("8-bit with filter %i", async (filter) => {
    const data = randomMap(31, 17, 255, filter + 1);
    const png = await encodeGrayPng(data, 31, 17, { filter });
    expect(ihdr(png)).toEqual({ bitDepth: 8, colorType: 0 });
    const out = await decodeGrayPng(png);
    expect(out.width).toBe(31);
    expect(out.height).toBe(17);
    expect(out.data).toEqual(data);
  });

  it.each(FILTERS)("16-bit with filter %i, including 65535", async (filter) => {
    const data = randomMap(29, 13, 65535, 100 + filter);
    data[0] = 65535;
    data[data.length - 1] = 65535;
    const png = await encodeGrayPng(data, 29, 13, { filter });
    expect(ihdr(png)).toEqual({ bitDepth: 16, colorType: 0 });
    const out = await decodeGrayPng(png);
    expect(out.bitDepth).toBe(16);
    expect(out.data).toEqual(data);
  });

  it("chooses 8-bit when the max id is 255 and 16-bit at 256", async () => {
    const a = blockyMap(40, 30, [0, 3, 255]);
    const b = blockyMap(40, 30, [0, 3, 256]);
    expect(ihdr(await encodeGrayPng(a, 40, 30)).bitDepth).toBe(8);
    expect(ihdr(await encodeGrayPng(b, 40, 30)).bitDepth).toBe(16);
  });

  it("round-trips with the automatic per-row filter choice", async () => {
    for (const ids of [
      [0, 1, 2, 40],
      [0, 300, 65535, 4097],
    ]) {
      const data = blockyMap(300, 77, ids);
      const out = await decodeGrayPng(await encodeGrayPng(data, 300, 77));
      expect(out.data).toEqual(data);
    }
  });

  it("compresses a blocky label map far below its raw size", async () => {
    const data = blockyMap(512, 512, [0, 1, 2, 3, 4, 5]);
    const png = await encodeGrayPng(data, 512, 512);
    expect(png.length).toBeLessThan(512 * 512 * 0.05);
  });
});

describe("PNG decode of files written by Python", () => {
  const ref = readJsonFixture<{ width: number; height: number; values16: number[]; values8: number[] }>(
    "png_cases.json",
  );

  it("reads Pillow's 16-bit grayscale (mode I;16)", async () => {
    const out = await decodeGrayPng(readFixture("pillow_16bit.png"));
    expect(out.bitDepth).toBe(16);
    expect([out.width, out.height]).toEqual([ref.width, ref.height]);
    expect(Array.from(out.data)).toEqual(ref.values16);
  });

  it("reads Pillow's 8-bit grayscale (mode L)", async () => {
    const out = await decodeGrayPng(readFixture("pillow_8bit.png"));
    expect(out.bitDepth).toBe(8);
    expect(Array.from(out.data)).toEqual(ref.values8);
  });

  it.each(["python_filters_16bit.png", "python_filters_8bit.png"])(
    "reads %s, whose rows cycle through all 5 filters",
    async (name) => {
      const out = await decodeGrayPng(readFixture(name));
      expect(Array.from(out.data)).toEqual(name.includes("16") ? ref.values16 : ref.values8);
    },
  );

  it("rejects colour PNGs rather than misreading them", async () => {
    const png = readFixture("pillow_8bit.png").slice();
    png[25] = 2; // colour type RGB (CRC is not checked; the type check must fire first)
    await expect(decodeGrayPng(png)).rejects.toThrow(/grayscale/);
  });
});
