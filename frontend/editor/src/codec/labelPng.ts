/**
 * Index-map PNG encoder whose cost follows the label changes, not the pixel count.
 *
 * A filtered label map (Up: byte minus the byte above; Sub: minus the byte to the left) is
 * almost all zeros, with short runs of one repeated residual where a border moved. Instead of
 * handing 8 MB of mostly-zero rows to a general deflater (CompressionStream: ~50 ms at 4K),
 * each row is turned directly into deflate tokens from its change points:
 *
 * - a run of zero bytes → one literal 0 (unless the byte before is 0) + distance-1 matches;
 * - a run of c equal residual pixels → the first pixel's bytes as literals + one match at
 *   distance bpp covering the other c-1 (literals when that is under 3 bytes).
 *
 * Tokens never reach back before their own row's filter byte, so every row is independent:
 * rows are tokenized once and cached, and after a stroke only the rows whose pixels changed
 * (and the row below each, whose Up residuals depend on them) are tokenized again.
 *
 * Rows are grouped in bands of BAND_ROWS; each band is one dynamic-Huffman block ending
 * byte-aligned (deflate.ts), cached as bytes. A save re-codes only the bands with changed
 * rows and copies the others, so its cost follows the edit, not the image (and stays low
 * while the JIT is still cold: a save runs this code once). Dynamic codes make a 258-byte
 * zero match cost ~2 bits, so payloads stay at CompressionStream's size or below.
 *
 * The Adler-32 of the filtered bytes is kept per row as two sums and combined
 * arithmetically, so zero runs are never read or written byte by byte.
 */
import { deflateBlock, FINAL_EMPTY_BLOCK, MAX_MATCH, matchToken, ZLIB_HEADER } from "./deflate";
import { pngFile } from "./pngFile";

const ADLER_MOD = 65521;
/** Rows per deflate block: ~70 bytes of code tables each vs. work re-done per changed band. */
export const BAND_ROWS = 64;

/**
 * Row tokenizer. Per row it also yields the two sums from which the zlib Adler-32 of the
 * whole image follows: S = Σ d_i and T = Σ (n − i)·d_i over the row's bytes d_0..d_{n−1}
 * (d_0 is the filter type), both mod 65521.
 */
class RowCoder {
  private readonly tok: Uint32Array;
  private cnt = 0;
  private pos = 0;
  private prev = -1;
  private s = 0;
  private t = 0;
  /** Row length in bytes, filter byte included. */
  readonly n: number;
  private readonly subPos: Int32Array;
  private readonly upPos: Int32Array;
  private readonly upKey: Int32Array;
  private readonly zeroRow: Uint16Array;
  /** Tokens, S and T of a row whose Up residuals are all zero (shared, never modified). */
  readonly emptyRow: Uint32Array;
  readonly emptyS: number;
  readonly emptyT: number;
  rowS = 0;
  rowT = 0;
  /** Filter type chosen for the last row: 1 Sub, 2 Up. */
  rowFilter = 2;

  constructor(
    readonly width: number,
    readonly bpp: 1 | 2,
  ) {
    this.n = width * bpp + 1;
    this.tok = new Uint32Array(this.n + 16);
    this.subPos = new Int32Array(width + 1);
    this.upPos = new Int32Array(width + 1);
    this.upKey = new Int32Array(width + 1);
    this.zeroRow = new Uint16Array(width);
    this.begin(2);
    this.zeros(width * bpp);
    this.emptyRow = this.finish();
    this.emptyS = this.rowS;
    this.emptyT = this.rowT;
  }

  private begin(filter: number): void {
    this.cnt = 0;
    this.pos = 0;
    this.s = 0;
    this.t = 0;
    this.prev = -1;
    this.rowFilter = filter;
    this.lit(filter);
  }

  private finish(): Uint32Array {
    if (this.pos !== this.n) throw new Error(`row coder wrote ${this.pos} of ${this.n} bytes`);
    this.rowS = this.s % ADLER_MOD;
    this.rowT = this.t % ADLER_MOD;
    return this.tok.slice(0, this.cnt);
  }

  private lit(b: number): void {
    this.tok[this.cnt++] = b;
    if (b !== 0) {
      this.s += b;
      this.t += (this.n - this.pos) * b;
    }
    this.prev = b;
    this.pos++;
  }

  /** `len` ≥ 3 bytes repeating the last `dist` ones, cut into matches of 3..258. */
  private match(len: number, dist: number): void {
    const tok = this.tok;
    if (len <= MAX_MATCH) {
      tok[this.cnt++] = matchToken(len, dist);
      return;
    }
    const full = Math.floor(len / MAX_MATCH);
    const rem = len - full * MAX_MATCH;
    if (rem === 0 || rem >= 3) {
      tok[this.cnt++] = matchToken(MAX_MATCH, dist, full);
      if (rem > 0) tok[this.cnt++] = matchToken(rem, dist);
    } else {
      // A remainder of 1 or 2 is below deflate's minimum: the last 258 lends it 3 − rem.
      if (full > 1) tok[this.cnt++] = matchToken(MAX_MATCH, dist, full - 1);
      tok[this.cnt++] = matchToken(MAX_MATCH - 3 + rem, dist);
      tok[this.cnt++] = matchToken(3, dist);
    }
  }

  private zeros(k: number): void {
    if (k <= 0) return;
    if (this.prev !== 0) {
      this.lit(0);
      k--;
    }
    if (k >= 3) {
      this.match(k, 1);
      this.pos += k;
    } else {
      for (; k > 0; k--) this.lit(0);
    }
  }

  /** c ≥ 1 pixels of one non-zero 8-bit residual r. */
  private run1(r: number, c: number): void {
    this.lit(r);
    const m = c - 1;
    if (m >= 3) {
      this.match(m, 1);
      this.s += m * r;
      this.t += r * (m * (this.n - this.pos) - (m * (m - 1)) / 2);
      this.pos += m;
    } else {
      for (let k = 0; k < m; k++) this.lit(r);
    }
  }

  /** c ≥ 1 pixels of one non-zero 16-bit residual (bytes a, b). */
  private run2(a: number, b: number, c: number): void {
    this.lit(a);
    this.lit(b);
    const m = c - 1;
    if (m >= 2) {
      this.match(2 * m, 2);
      const q = this.n - this.pos;
      this.s += m * (a + b);
      this.t += a * (m * q - m * (m - 1)) + b * (m * (q - 1) - m * (m - 1));
      this.pos += 2 * m;
    } else if (m === 1) {
      this.lit(a);
      this.lit(b);
    }
  }

  /**
   * Tokens of row y. One pass over the row collects both filters' change points; the
   * cheaper one (fewer tokens, roughly) is written. Up almost always wins on label maps,
   * since a border that does not move costs nothing; Sub wins below rows full of detail.
   */
  encodeRow(data: Uint16Array, y: number): Uint32Array {
    const w = this.width;
    const base = y * w;
    const above = y > 0 ? data : this.zeroRow;
    const ab = y > 0 ? base - w : 0;
    const { subPos, upPos, upKey } = this;
    // Two pixels per compare where a stretch equals both its left neighbour and the row
    // above (no event in either filter): needs 4-byte aligned rows, i.e. an even width.
    const fast = (w & 1) === 0 && (data.byteOffset & 3) === 0;
    const cur32 = fast ? new Int32Array(data.buffer, data.byteOffset, data.length >> 1) : null;
    const above32 = fast ? new Int32Array(above.buffer, above.byteOffset, above.length >> 1) : null;
    const hi = this.bpp === 2;
    let ns = 0;
    let nu = 0;
    let nz = 0;
    let left = 0;
    let prevKey = -1;
    let x = 0;
    while (x < w) {
      if (cur32 && above32 && prevKey === 0 && (x & 1) === 0) {
        const pair = (left | (left << 16)) | 0;
        let k = (base + x) >> 1;
        let ka = (ab + x) >> 1;
        const end = (base + w) >> 1;
        while (k < end && cur32[k] === pair && above32[ka] === pair) {
          k++;
          ka++;
        }
        x = (k << 1) - base;
        if (x >= w) break;
      }
      const v = data[base + x]!;
      if (v !== left) {
        subPos[ns++] = x;
        left = v;
      }
      const b = above[ab + x]!;
      const key = hi ? ((((v >> 8) - (b >> 8)) & 0xff) << 8) | ((v - b) & 0xff) : (v - b) & 0xff;
      if (key !== prevKey) {
        upPos[nu] = x;
        upKey[nu++] = key;
        if (key !== 0) nz++;
        prevKey = key;
      }
      x++;
    }
    const bpp = this.bpp;
    if (nz === 0) {
      this.rowS = this.emptyS;
      this.rowT = this.emptyT;
      this.rowFilter = 2;
      return this.emptyRow;
    }
    if (nz * (bpp + 3) <= ns * (bpp + 2)) {
      this.begin(2);
      for (let i = 0; i < nu; i++) {
        const x0 = upPos[i]!;
        const c = (i + 1 < nu ? upPos[i + 1]! : w) - x0;
        const key = upKey[i]!;
        if (key === 0) this.zeros(c * bpp);
        else if (bpp === 1) this.run1(key, c);
        else this.run2(key >> 8, key & 0xff, c);
      }
    } else {
      this.begin(1);
      let x = 0;
      for (let i = 0; i < ns; i++) {
        const xc = subPos[i]!;
        this.zeros((xc - x) * bpp);
        const v = data[base + xc]!;
        const l = xc > 0 ? data[base + xc - 1]! : 0;
        if (bpp === 2) this.lit(((v >> 8) - (l >> 8)) & 0xff);
        this.lit((v - l) & 0xff);
        x = xc + 1;
      }
      this.zeros((w - x) * bpp);
    }
    return this.finish();
  }
}

export interface LabelPngTimings {
  /** Tokenizing changed rows (the part that reads pixels). */
  rowsMs: number;
  /** Huffman codes, bit packing, PNG framing. */
  deflateMs: number;
  rowsEncoded: number;
}

/**
 * Grayscale 8/16-bit PNG of a label map, kept between saves: call rowChanged(y) (or
 * rowsChanged) for the rows written since the last encode, then encode() again.
 */
export class LabelPngEncoder {
  private coder: RowCoder | null = null;
  private bitDepth: 8 | 16 = 8;
  private readonly rows: Uint32Array[];
  private readonly rowS: Int32Array;
  private readonly rowT: Int32Array;
  private readonly dirty: Uint8Array;
  private readonly bands: Uint8Array[];
  private readonly bandDirty: Uint8Array;
  private allDirty = true;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`invalid image size ${width}x${height}`);
    }
    this.rows = new Array<Uint32Array>(height);
    this.rowS = new Int32Array(height);
    this.rowT = new Int32Array(height);
    this.dirty = new Uint8Array(height);
    const nBands = Math.ceil(height / BAND_ROWS);
    this.bands = new Array<Uint8Array>(nBands);
    this.bandDirty = new Uint8Array(nBands);
  }

  /** Row y's pixels changed: it and the row below (its Up residuals) are encoded again. */
  rowChanged(y: number): void {
    if (y < 0 || y >= this.height) return;
    this.dirty[y] = 1;
    if (y + 1 < this.height) this.dirty[y + 1] = 1;
  }

  /** Rows [y0, y1) changed. */
  rowsChanged(y0: number, y1: number): void {
    for (let y = Math.max(0, y0); y < Math.min(this.height, y1); y++) this.rowChanged(y);
  }

  invalidate(): void {
    this.allDirty = true;
  }

  encode(data: Uint16Array, bitDepth: 8 | 16, timings?: LabelPngTimings): Uint8Array {
    const { width, height } = this;
    if (data.length !== width * height) throw new Error("pixel count does not match size");
    const t0 = performance.now();
    if (!this.coder || bitDepth !== this.bitDepth) {
      this.coder = new RowCoder(width, bitDepth === 16 ? 2 : 1);
      this.bitDepth = bitDepth;
      this.allDirty = true;
    }
    const coder = this.coder;
    const { rows, rowS, rowT, dirty, bands, bandDirty } = this;
    const all = this.allDirty;
    let encoded = 0;
    for (let y = 0; y < height; y++) {
      if (!all && dirty[y] === 0) continue;
      rows[y] = coder.encodeRow(data, y);
      rowS[y] = coder.rowS;
      rowT[y] = coder.rowT;
      dirty[y] = 0;
      bandDirty[Math.floor(y / BAND_ROWS)] = 1;
      encoded++;
    }
    this.allDirty = false;
    const t1 = performance.now();
    for (let k = 0; k < bands.length; k++) {
      if (bandDirty[k] === 0) continue;
      const y0 = k * BAND_ROWS;
      bands[k] = deflateBlock({ count: Math.min(BAND_ROWS, height - y0), part: (i) => rows[y0 + i]! });
      bandDirty[k] = 0;
    }
    // Adler-32 of the concatenated rows: A = 1 + Σ S_y;
    // B = N + Σ_y (T_y + R_y·S_y), R_y = bytes after row y (every byte i of the stream
    // adds d_i to B once for each of the N − i sums it is part of).
    const n = coder.n;
    let a = 1;
    let b = (n * height) % ADLER_MOD;
    for (let y = 0; y < height; y++) {
      const after = ((height - 1 - y) * n) % ADLER_MOD;
      a += rowS[y]!;
      b = (b + rowT[y]! + after * rowS[y]!) % ADLER_MOD;
    }
    a %= ADLER_MOD;
    const adler = ((b << 16) | a) >>> 0;
    const trailer = new Uint8Array([adler >>> 24, (adler >>> 16) & 0xff, (adler >>> 8) & 0xff, adler & 0xff]);
    const png = pngFile(width, height, bitDepth, [ZLIB_HEADER, ...bands, FINAL_EMPTY_BLOCK, trailer]);
    if (timings) {
      timings.rowsMs = t1 - t0;
      timings.deflateMs = performance.now() - t1;
      timings.rowsEncoded = encoded;
    }
    return png;
  }
}

/** One-shot encode of a whole map. */
export function encodeLabelPng(data: Uint16Array, width: number, height: number, bitDepth: 8 | 16, timings?: LabelPngTimings): Uint8Array {
  return new LabelPngEncoder(width, height).encode(data, bitDepth, timings);
}
