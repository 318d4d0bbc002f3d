/**
 * PNG codec for index maps: grayscale, 8-bit (max id ≤ 255) or 16-bit big-endian, as the
 * PNG spec stores samples. Our own code, not canvas, because canvas decoding goes through
 * 8-bit RGBA and would silently lose ids above 255.
 *
 * Encoding label maps (the default) uses the sparse encoder of labelPng.ts, which writes
 * the deflate stream from the label changes. The general path (any fixed filter, deflated by
 * CompressionStream) stays for tests and comparisons. Inflate is DecompressionStream
 * ("deflate" = zlib, RFC 1950, exactly what IDAT holds), so no JS inflater is shipped.
 */
import { encodeLabelPng } from "./labelPng";
import { pngFile, SIGNATURE } from "./pngFile";

export { crc32 } from "./pngFile";

export type FilterType = 0 | 1 | 2 | 3 | 4; // None, Sub, Up, Average, Paeth
/** "auto" picks Sub or Up per row (see filterRowsAuto); fixed types exist for tests and tools. */
export type FilterChoice = FilterType | "auto";

export interface EncodeOptions {
  /** Known by the caller from its area table; saves a pass over the map. */
  bitDepth?: 8 | 16;
  /** A fixed filter (or "auto" with deflater "stream") takes the general path. */
  filter?: FilterChoice;
  /** "sparse" (default): labelPng.ts; "stream": filterImage + CompressionStream. */
  deflater?: "sparse" | "stream";
  /** Filled with where the time went (benchmarks). */
  timings?: { filterMs: number; deflateMs: number };
}

export interface DecodedGray {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  data: Uint16Array;
}

async function pipeThrough(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Writing and reading concurrently keeps backpressure from stalling large buffers.
  const done = writer.write(bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    parts.push(value);
    total += value.length;
  }
  await done;
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function zlibDeflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeThrough(bytes, new CompressionStream("deflate"));
}

export function zlibInflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeThrough(bytes, new DecompressionStream("deflate"));
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

/** Writes filter byte + filtered row into out[o…] with one fixed filter type. */
function filterRow(
  type: FilterType,
  cur: Uint8Array,
  prev: Uint8Array | null,
  bpp: number,
  out: Uint8Array,
  o: number,
): void {
  const n = cur.length;
  out[o++] = type;
  for (let i = 0; i < n; i++) {
    const x = cur[i]!;
    const a = i >= bpp ? cur[i - bpp]! : 0;
    const b = prev ? prev[i]! : 0;
    let r: number;
    switch (type) {
      case 0:
        r = x;
        break;
      case 1:
        r = x - a;
        break;
      case 2:
        r = x - b;
        break;
      case 3:
        r = x - ((a + b) >> 1);
        break;
      default:
        r = x - paeth(a, b, i >= bpp && prev ? prev[i - bpp]! : 0);
    }
    out[o + i] = r & 0xff;
  }
}

/**
 * Fast per-row choice for label maps: between Sub and Up, whichever leaves fewer non-zero
 * residuals (label maps are long runs, so residuals are 0 or "anything"; counting non-zeros
 * predicts deflate's output better than the spec's sum of |residuals| and costs one pass).
 * A row equal to the row above is Up with all-zero residuals: only the filter byte is written
 * because the output buffer starts zeroed. This keeps a 4K encode to a few passes of cheap
 * comparisons instead of five full trial filterings.
 */
export function filterRowsAuto(
  data: Uint16Array,
  width: number,
  height: number,
  bpp: 1 | 2,
  out: Uint8Array,
  y0 = 0,
  y1 = height,
  outIsZeroed = true,
): void {
  const stride = width * bpp + 1;
  // Only non-zero residuals are written below, so rows being redone must start from zero.
  if (!outIsZeroed) out.fill(0, y0 * stride, y1 * stride);
  for (let y = y0; y < y1; y++) {
    const base = y * width;
    const o = y * stride + 1;
    if (y > 0) {
      let same = true;
      for (let x = 0, a = base - width; x < width; x++) {
        if (data[base + x] !== data[a + x]) {
          same = false;
          break;
        }
      }
      if (same) {
        out[o - 1] = 2; // Up, residuals all zero
        continue;
      }
    }
    let subNz = 0;
    let upNz = 0;
    if (y > 0) {
      let left = 0;
      for (let x = 0, a = base - width; x < width; x++) {
        const v = data[base + x]!;
        if (v !== left) subNz++;
        if (v !== data[a + x]) upNz++;
        left = v;
      }
    } else {
      upNz = Infinity;
    }
    const useUp = upNz < subNz;
    out[o - 1] = useUp ? 2 : 1;
    if (bpp === 1) {
      if (useUp) {
        for (let x = 0, a = base - width; x < width; x++) {
          const v = data[base + x]!;
          const b = data[a + x]!;
          if (v !== b) out[o + x] = (v - b) & 0xff;
        }
      } else {
        let left = 0;
        for (let x = 0; x < width; x++) {
          const v = data[base + x]!;
          if (v !== left) out[o + x] = (v - left) & 0xff;
          left = v;
        }
      }
    } else {
      // 16-bit: each byte minus the same byte of the predictor pixel (high byte first).
      const pred = (x: number, left: number): number => (useUp ? data[base - width + x]! : left);
      let left = 0;
      for (let x = 0, j = o; x < width; x++, j += 2) {
        const v = data[base + x]!;
        const p = pred(x, left);
        if (v !== p) {
          out[j] = ((v >> 8) - (p >> 8)) & 0xff;
          out[j + 1] = ((v & 0xff) - (p & 0xff)) & 0xff;
        }
        left = v;
      }
    }
  }
}

/** Samples → filtered scanlines (the IDAT payload before deflate). */
export function filterImage(
  data: Uint16Array,
  width: number,
  height: number,
  bitDepth: 8 | 16,
  filter: FilterChoice,
): Uint8Array {
  const bpp = bitDepth === 16 ? 2 : 1;
  const stride = width * bpp;
  const out = new Uint8Array((stride + 1) * height);
  if (filter === "auto") {
    filterRowsAuto(data, width, height, bpp, out);
    return out;
  }
  let cur = new Uint8Array(stride);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    if (bpp === 1) {
      for (let x = 0; x < width; x++) cur[x] = data[base + x]!;
    } else {
      for (let x = 0, j = 0; x < width; x++, j += 2) {
        const v = data[base + x]!;
        cur[j] = v >> 8; // big-endian, as PNG stores 16-bit samples
        cur[j + 1] = v & 0xff;
      }
    }
    filterRow(filter, cur, y > 0 ? prev : null, bpp, out, y * (stride + 1));
    const t = prev;
    prev = cur;
    cur = t;
  }
  return out;
}

export function maxValue(data: Uint16Array): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) if (data[i]! > m) m = data[i]!;
  return m;
}

export async function encodeGrayPng(
  data: Uint16Array,
  width: number,
  height: number,
  opts: EncodeOptions = {},
): Promise<Uint8Array> {
  if (data.length !== width * height) throw new Error("pixel count does not match size");
  const bitDepth = opts.bitDepth ?? (maxValue(data) <= 255 ? 8 : 16);
  const filter = opts.filter ?? "auto";
  if (filter === "auto" && (opts.deflater ?? "sparse") === "sparse") {
    const t = { rowsMs: 0, deflateMs: 0, rowsEncoded: 0 };
    const png = encodeLabelPng(data, width, height, bitDepth, t);
    if (opts.timings) {
      opts.timings.filterMs = t.rowsMs;
      opts.timings.deflateMs = t.deflateMs;
    }
    return png;
  }
  const t0 = performance.now();
  const filtered = filterImage(data, width, height, bitDepth, filter);
  const t1 = performance.now();
  const idat = await zlibDeflate(filtered);
  if (opts.timings) {
    opts.timings.filterMs = t1 - t0;
    opts.timings.deflateMs = performance.now() - t1;
  }
  return pngFile(width, height, bitDepth, idat);
}

export class PngFormatError extends Error {}

export async function decodeGrayPng(png: Uint8Array): Promise<DecodedGray> {
  for (let i = 0; i < 8; i++) if (png[i] !== SIGNATURE[i]) throw new PngFormatError("not a PNG");
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let interlace = 0;
  const idat: Uint8Array[] = [];
  while (off + 8 <= png.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(png[off + 4]!, png[off + 5]!, png[off + 6]!, png[off + 7]!);
    const body = png.subarray(off + 8, off + 8 + len);
    if (body.length !== len) throw new PngFormatError("truncated chunk");
    if (type === "IHDR") {
      width = dv.getUint32(off + 8);
      height = dv.getUint32(off + 12);
      bitDepth = png[off + 16]!;
      colorType = png[off + 17]!;
      interlace = png[off + 20]!;
    } else if (type === "IDAT") {
      idat.push(body);
    } else if (type === "IEND") {
      break;
    }
    off += 12 + len;
  }
  if (colorType !== 0) throw new PngFormatError(`colour type ${colorType} is not grayscale`);
  if (bitDepth !== 8 && bitDepth !== 16) throw new PngFormatError(`bit depth ${bitDepth} not supported`);
  if (interlace !== 0) throw new PngFormatError("interlaced PNGs are not supported");
  const joined = new Uint8Array(idat.reduce((n, p) => n + p.length, 0));
  let j = 0;
  for (const p of idat) {
    joined.set(p, j);
    j += p.length;
  }
  const raw = await zlibInflate(joined);
  const data = unfilterImage(raw, width, height, bitDepth);
  return { width, height, bitDepth, data };
}

export function unfilterImage(raw: Uint8Array, width: number, height: number, bitDepth: 8 | 16): Uint16Array {
  const bpp = bitDepth === 16 ? 2 : 1;
  const stride = width * bpp;
  if (raw.length < (stride + 1) * height) throw new PngFormatError("image data too short");
  const out = new Uint16Array(width * height);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const type = raw[o]!;
    const line = raw.subarray(o + 1, o + 1 + stride);
    switch (type) {
      case 0:
        cur.set(line);
        break;
      case 1:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + (i >= bpp ? cur[i - bpp]! : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + prev[i]!;
        break;
      case 3:
        for (let i = 0; i < stride; i++) cur[i] = line[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1);
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? cur[i - bpp]! : 0;
          const c = i >= bpp ? prev[i - bpp]! : 0;
          cur[i] = line[i]! + paeth(a, prev[i]!, c);
        }
        break;
      default:
        throw new PngFormatError(`bad filter type ${type} on row ${y}`);
    }
    const base = y * width;
    if (bpp === 1) {
      for (let x = 0; x < width; x++) out[base + x] = cur[x]!;
    } else {
      for (let x = 0, i = 0; x < width; x++, i += 2) out[base + x] = (cur[i]! << 8) | cur[i + 1]!;
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return out;
}
