import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { huffmanLengths } from "../src/codec/deflate";
import { encodeLabelPng, LabelPngEncoder } from "../src/codec/labelPng";
import { decodeGrayPng, encodeGrayPng, unfilterImage } from "../src/codec/png";
import { mulberry32, sameArray } from "./helpers";

/** The IDAT payload of a PNG written by our encoders (one IDAT right after IHDR). */
function idat(png: Uint8Array): Uint8Array {
  const len = new DataView(png.buffer, png.byteOffset).getUint32(33);
  expect(String.fromCharCode(...png.subarray(37, 41))).toBe("IDAT");
  return png.subarray(41, 41 + len);
}

/** Inflates with node's zlib (which checks the Adler-32) and unfilters. */
function inflateAndUnfilter(png: Uint8Array, w: number, h: number, bitDepth: 8 | 16): Uint16Array {
  const raw = new Uint8Array(inflateSync(idat(png)));
  expect(raw.length).toBe((w * (bitDepth / 8) + 1) * h);
  return unfilterImage(raw, w, h, bitDepth);
}

function check(data: Uint16Array, w: number, h: number, bitDepth: 8 | 16): Uint8Array {
  const png = encodeLabelPng(data, w, h, bitDepth);
  expect(png[24]).toBe(bitDepth);
  expect(sameArray(inflateAndUnfilter(png, w, h, bitDepth), data)).toBe(true);
  return png;
}

/** Street-scene-like map (wavy bands + blobs), like the benchmark's, scaled down. */
function streetMap(w: number, h: number, idBase: number): Uint16Array {
  const r = mulberry32(1234);
  const d = new Uint16Array(w * h);
  const waves = [0.28, 0.45, 0.58, 0.7, 0.85].map((f) => ({ y: f * h, a: (0.02 + r() * 0.03) * h, p: r() * 6, k: 1 + r() * 3 }));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let band = 0;
      for (const wv of waves) if (y > wv.y + wv.a * Math.sin((x / w) * Math.PI * 2 * wv.k + wv.p)) band++;
      d[y * w + x] = band + 1;
    }
  for (let k = 0; k < 30; k++) {
    const cx = r() * w;
    const cy = (0.35 + r() * 0.6) * h;
    const rad = (0.01 + r() * 0.05) * w;
    for (let y = Math.max(0, Math.floor(cy - rad)); y < Math.min(h, cy + rad); y++)
      for (let x = Math.max(0, Math.floor(cx - rad)); x < Math.min(w, cx + rad); x++)
        if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) d[y * w + x] = idBase + k;
  }
  return d;
}

describe("label-map PNG encoder (sparse deflate)", () => {
  it("round-trips through zlib for edge-case sizes and values", () => {
    const cases: Array<[number, number, (x: number, y: number) => number]> = [
      [1, 1, () => 0],
      [1, 1, () => 255],
      [1, 7, (_x, y) => y * 30],
      [9, 1, (x) => (x > 4 ? 3 : 0)],
      [300, 2, () => 0],
      [517, 3, (x, y) => (x === 258 + y ? 1 : 0)], // zero runs of 257..261 around the 258 cap
      [261, 4, (x, y) => (x < y ? 2 : 0)],
      [255, 9, (x, y) => (x + y) & 255],
      [33, 33, (x, y) => (x * y) % 7],
    ];
    for (const [w, h, f] of cases) {
      const d = new Uint16Array(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d[y * w + x] = f(x, y);
      check(d, w, h, 8);
      check(d, w, h, 16);
    }
  });

  it("round-trips 16-bit ids whose high or low byte residual is zero, and 65535", () => {
    const w = 64;
    const h = 40;
    const d = new Uint16Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) d[y * w + x] = [0, 256, 512, 257, 65535, 1, 65280][((x >> 3) + (y >> 2)) % 7]!;
    check(d, w, h, 16);
  });

  it("round-trips random sparse maps of every zero-run length (property test)", () => {
    const rnd = mulberry32(7);
    for (let iter = 0; iter < 150; iter++) {
      const w = 1 + Math.floor(rnd() * 700);
      const h = 1 + Math.floor(rnd() * 6);
      const bitDepth = rnd() < 0.5 ? 8 : 16;
      const max = bitDepth === 8 ? 255 : 65535;
      const d = new Uint16Array(w * h);
      const density = [0.001, 0.01, 0.1, 0.9][iter % 4]!;
      let v = 0;
      for (let i = 0; i < d.length; i++) {
        if (rnd() < density) v = Math.floor(rnd() * (max + 1));
        d[i] = v;
      }
      check(d, w, h, bitDepth);
    }
  });

  it("round-trips noise (every pixel its own event) through DecompressionStream too", async () => {
    const rnd = mulberry32(3);
    for (const bitDepth of [8, 16] as const) {
      const w = 97;
      const h = 31;
      const d = new Uint16Array(w * h);
      for (let i = 0; i < d.length; i++) d[i] = Math.floor(rnd() * (bitDepth === 8 ? 256 : 65536));
      const png = check(d, w, h, bitDepth);
      const out = await decodeGrayPng(png);
      expect(out.bitDepth).toBe(bitDepth);
      expect(sameArray(out.data, d)).toBe(true);
    }
  });

  it("is what encodeGrayPng writes by default, and about CompressionStream's size", async () => {
    for (const [idBase, bitDepth] of [[7, 8], [700, 16]] as const) {
      const w = 1280;
      const h = 720;
      const d = streetMap(w, h, idBase);
      const sparse = await encodeGrayPng(d, w, h);
      expect(sparse[24]).toBe(bitDepth);
      expect(sameArray(sparse, encodeLabelPng(d, w, h, bitDepth))).toBe(true);
      const stream = await encodeGrayPng(d, w, h, { deflater: "stream" });
      expect(sameArray((await decodeGrayPng(sparse)).data, d)).toBe(true);
      // Measured: 0.96× (8-bit) and 1.03× (16-bit) of zlib level 6 on these maps.
      expect(sparse.length).toBeLessThanOrEqual(stream.length * 1.1);
    }
  });

  it("encodes incrementally: changed rows only, same bytes as a fresh encode", () => {
    const w = 640;
    const h = 360;
    const d = streetMap(w, h, 7);
    const enc = new LabelPngEncoder(w, h);
    const t = { rowsMs: 0, deflateMs: 0, rowsEncoded: 0 };
    enc.encode(d, 8, t);
    expect(t.rowsEncoded).toBe(h);
    enc.encode(d, 8, t);
    expect(t.rowsEncoded).toBe(0);
    for (let y = 100; y < 120; y++) for (let x = 300; x < 340; x++) d[y * w + x] = 40;
    enc.rowsChanged(100, 120);
    const png = enc.encode(d, 8, t);
    expect(t.rowsEncoded).toBe(21); // 20 rows + the row below (its Up residuals)
    expect(sameArray(png, encodeLabelPng(d, w, h, 8))).toBe(true);
    expect(sameArray(inflateAndUnfilter(png, w, h, 8), d)).toBe(true);
  });
});

describe("length-limited Huffman code lengths", () => {
  function kraft(lengths: Uint8Array, maxBits: number): number {
    let sum = 0;
    for (const l of lengths) if (l) sum += 2 ** (maxBits - l);
    return sum / 2 ** maxBits;
  }

  it("are complete and within the limit, also for very skewed frequencies", () => {
    const fib = [1, 1];
    while (fib.length < 40) fib.push(fib[fib.length - 1]! + fib[fib.length - 2]!);
    const rnd = mulberry32(11);
    const cases: Array<[number[], number]> = [
      [fib, 15],
      [fib.slice(0, 19), 7],
      [Array.from({ length: 286 }, () => Math.floor(rnd() * 1000)), 15],
      [Array.from({ length: 286 }, (_, i) => (i % 3 === 0 ? 0 : 2 ** (i % 30))), 15],
      [[5, 0, 0, 9], 15],
    ];
    for (const [freq, max] of cases) {
      const lengths = huffmanLengths(freq, max);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(max);
      expect(kraft(lengths, max)).toBe(1);
      freq.forEach((f, i) => {
        if (f > 0) expect(lengths[i]).toBeGreaterThan(0);
      });
    }
  });

  it("give one or zero used symbols a dummy partner (complete one-bit code)", () => {
    expect(Array.from(huffmanLengths([0, 0, 7, 0], 15))).toEqual([1, 0, 1, 0]);
    expect(Array.from(huffmanLengths([0, 0, 0], 15))).toEqual([1, 1, 0]);
  });
});

// The project's own decoder (annotation.masks.decode_index_map: CRCs, exact inflated size,
// Pillow) reads what the editor writes. Skipped when the Python environment is absent.
const PYTHON = fileURLToPath(new URL("../../../.venv/bin/python", import.meta.url));
describe.skipIf(!existsSync(PYTHON))("Python decoder round trip", () => {
  it("decode_index_map reads 8- and 16-bit PNGs from the sparse encoder", () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-png-"));
    try {
      const files: string[] = [];
      for (const [w, h, idBase] of [[333, 207, 7], [320, 180, 900]] as const) {
        const d = streetMap(w, h, idBase);
        const bitDepth = idBase > 255 ? 16 : 8;
        const name = join(dir, `m${w}`);
        writeFileSync(`${name}.png`, encodeLabelPng(d, w, h, bitDepth));
        writeFileSync(`${name}.u16`, new Uint8Array(d.buffer));
        files.push(`${name}|${w}|${h}`);
      }
      const script = [
        "import sys, numpy as np",
        "from annotation.masks import decode_index_map",
        "for spec in sys.argv[1:]:",
        "    name, w, h = spec.split('|')",
        "    got = decode_index_map(open(name + '.png', 'rb').read(), expected_shape=(int(h), int(w)))",
        "    want = np.fromfile(name + '.u16', dtype='<u2').reshape(int(h), int(w))",
        "    assert (got == want).all(), name",
        "print('ok')",
      ].join("\n");
      const root = fileURLToPath(new URL("../../..", import.meta.url));
      const res = spawnSync(PYTHON, ["-c", script, ...files], { cwd: root, encoding: "utf8", env: { ...process.env, DATABASE_URL: "" } });
      expect(res.stderr).toBe("");
      expect(res.stdout.trim()).toBe("ok");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
