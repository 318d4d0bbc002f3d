/**
 * A deflate (RFC 1951) back end for token streams made of literals and short-distance
 * matches: each call writes one dynamic-Huffman block, then an empty stored block, so the
 * result ends on a byte boundary (what zlib's Z_SYNC_FLUSH does) and separately written
 * pieces can simply be concatenated into one stream (see labelPng.ts).
 *
 * It does no match finding: the caller (the label-map PNG encoder) already knows where the
 * runs are. What is left here is the Huffman part: count symbols, build length-limited
 * canonical codes, pack bits.
 *
 * Token format (Uint32): t < 256 is a literal byte; otherwise
 * t = ((repeat − 1) << 12) | (distance << 9) | length: `repeat` consecutive matches of
 * `length` (3..258) at `distance` (1..4, the distance codes without extra bits). Repeats
 * keep a 4K row of zeros (15 matches of 258) to one token.
 */

export const MAX_MATCH = 258;
export const MIN_MATCH = 3;
/** Matches one token can repeat (20 bits). */
export const MAX_REPEAT = 1 << 20;

export function matchToken(length: number, distance: number, repeat = 1): number {
  return (((repeat - 1) << 12) | (distance << 9) | length) >>> 0;
}

// Length 3..258 → symbol 257..285, extra bit count, extra bit value (RFC 1951, 3.2.5).
const LEN_SYM = new Uint16Array(MAX_MATCH + 1);
const LEN_XBITS = new Uint8Array(MAX_MATCH + 1);
const LEN_XVAL = new Uint8Array(MAX_MATCH + 1);
(() => {
  const base = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  for (let len = MIN_MATCH; len <= MAX_MATCH; len++) {
    let k = 0;
    if (len === MAX_MATCH) k = 28;
    else while (k + 1 < 28 && base[k + 1]! <= len) k++;
    LEN_SYM[len] = 257 + k;
    LEN_XBITS[len] = extra[k]!;
    LEN_XVAL[len] = len - base[k]!;
  }
})();

/** Order in which code-length code lengths are sent (RFC 1951, 3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * Optimal Huffman code lengths for `freq`, limited to `maxBits`, complete (Kraft sum 1) as
 * zlib's inflate requires. Fewer than two used symbols get dummies so the code stays complete.
 */
export function huffmanLengths(freq: ArrayLike<number>, maxBits: number): Uint8Array {
  const n = freq.length;
  const lengths = new Uint8Array(n);
  const used: number[] = [];
  for (let i = 0; i < n; i++) if (freq[i]! > 0) used.push(i);
  if (used.length < 2) {
    // One or no symbol: two codes of one bit (a dummy next to the used one).
    const a = used[0] ?? 0;
    lengths[a] = 1;
    lengths[a === 0 ? 1 : 0] = 1;
    return lengths;
  }
  // Leaves by ascending frequency (ties by symbol, for determinism).
  used.sort((a, b) => freq[a]! - freq[b]! || a - b);
  const m = used.length;
  // Two-queue Huffman construction: leaves 0..m-1, internal nodes m..2m-2.
  const weight = new Float64Array(2 * m - 1);
  const parent = new Int32Array(2 * m - 1);
  for (let i = 0; i < m; i++) weight[i] = freq[used[i]!]!;
  let leaf = 0;
  let inner = m;
  for (let next = m; next < 2 * m - 1; next++) {
    const pick = (): number => (leaf < m && (inner >= next || weight[leaf]! <= weight[inner]!) ? leaf++ : inner++);
    const a = pick();
    const b = pick();
    weight[next] = weight[a]! + weight[b]!;
    parent[a] = next;
    parent[b] = next;
  }
  const depth = new Int32Array(2 * m - 1);
  for (let i = 2 * m - 3; i >= 0; i--) depth[i] = depth[parent[i]!]! + 1;
  // Count leaves per depth, then limit the depth (miniz's method: keeps the Kraft sum exact).
  const maxDepth = Math.max(maxBits, ...Array.from(depth.subarray(0, m)));
  const count = new Int32Array(maxDepth + 1);
  for (let i = 0; i < m; i++) count[depth[i]!]!++;
  for (let d = maxBits + 1; d <= maxDepth; d++) {
    count[maxBits]! += count[d]!;
    count[d] = 0;
  }
  let total = 0;
  for (let d = maxBits; d > 0; d--) total += count[d]! * 2 ** (maxBits - d);
  while (total !== 2 ** maxBits) {
    count[maxBits]!--;
    for (let d = maxBits - 1; d > 0; d--) {
      if (count[d]! > 0) {
        count[d]!--;
        count[d + 1]! += 2;
        break;
      }
    }
    total--;
  }
  // Most frequent symbols get the shortest codes.
  let k = m - 1;
  for (let d = 1; d <= maxBits; d++) for (let c = count[d]!; c > 0; c--) lengths[used[k--]!] = d;
  return lengths;
}

/** Canonical codes (RFC 1951, 3.2.2), bit-reversed for LSB-first packing. */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const blCount = new Uint16Array(16);
  for (const l of lengths) if (l) blCount[l]!++;
  const next = new Uint16Array(16);
  let code = 0;
  for (let bits = 1; bits < 16; bits++) {
    code = (code + blCount[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s]!;
    if (!l) continue;
    let c = next[l]!++;
    let r = 0;
    for (let i = 0; i < l; i++) {
      r = (r << 1) | (c & 1);
      c >>= 1;
    }
    codes[s] = r;
  }
  return codes;
}

/** Where the sequence of tokens comes from: per-row arrays, read twice (count, then write). */
export interface TokenSource {
  readonly count: number;
  part(i: number): Uint32Array;
}

/** zlib header (deflate, 32 KiB window, no dictionary; 0x7801 % 31 === 0). */
export const ZLIB_HEADER = new Uint8Array([0x78, 0x01]);
/** A final, empty fixed-Huffman block: ends a stream whose pieces all end byte-aligned. */
export const FINAL_EMPTY_BLOCK = new Uint8Array([0x03, 0x00]);

/**
 * One non-final dynamic-Huffman block holding `tokens`, followed by an empty stored block
 * (3 bits, padding, LEN 0000, NLEN FFFF) so the bytes end on a byte boundary.
 */
export function deflateBlock(tokens: TokenSource): Uint8Array {
  const litFreq = new Float64Array(286);
  const distFreq = new Float64Array(30);
  for (let p = 0; p < tokens.count; p++) {
    const part = tokens.part(p);
    for (let i = 0; i < part.length; i++) {
      const t = part[i]!;
      if (t < 256) litFreq[t]!++;
      else {
        const rep = (t >>> 12) + 1;
        litFreq[LEN_SYM[t & 511]!]! += rep;
        distFreq[((t >>> 9) & 7) - 1]! += rep;
      }
    }
  }
  litFreq[256] = 1; // end of block
  const litLen = huffmanLengths(litFreq, 15);
  const distLen = huffmanLengths(distFreq, 15);
  const litCode = canonicalCodes(litLen);
  const distCode = canonicalCodes(distLen);

  let hlit = 286;
  while (hlit > 257 && litLen[hlit - 1] === 0) hlit--;
  let hdist = 30;
  while (hdist > 1 && distLen[hdist - 1] === 0) hdist--;
  // Run-length code the concatenated code lengths with symbols 16/17/18.
  const all = new Uint8Array(hlit + hdist);
  all.set(litLen.subarray(0, hlit));
  all.set(distLen.subarray(0, hdist), hlit);
  const clSyms: number[] = [];
  const clExtra: number[] = [];
  for (let i = 0; i < all.length; ) {
    const l = all[i]!;
    let run = 1;
    while (i + run < all.length && all[i + run] === l) run++;
    if (l === 0 && run >= 3) {
      const r = Math.min(run, 138);
      clSyms.push(r >= 11 ? 18 : 17);
      clExtra.push(r >= 11 ? r - 11 : r - 3);
      i += r;
    } else if (l !== 0 && run >= 4) {
      const r = Math.min(run - 1, 6);
      clSyms.push(l, 16);
      clExtra.push(0, r - 3);
      i += 1 + r;
    } else {
      clSyms.push(l);
      clExtra.push(0);
      i++;
    }
  }
  const clFreq = new Float64Array(19);
  for (const s of clSyms) clFreq[s]!++;
  const clLen = huffmanLengths(clFreq, 7);
  const clCode = canonicalCodes(clLen);
  let hclen = 19;
  while (hclen > 4 && clLen[CL_ORDER[hclen - 1]!] === 0) hclen--;

  // Per-length bit patterns for this block's codes: length code + its extra bits.
  const matchBits = new Uint32Array(MAX_MATCH + 1);
  const matchN = new Uint8Array(MAX_MATCH + 1);
  for (let len = MIN_MATCH; len <= MAX_MATCH; len++) {
    const sym = LEN_SYM[len]!;
    matchBits[len] = litCode[sym]! | (LEN_XVAL[len]! << litLen[sym]!);
    matchN[len] = litLen[sym]! + LEN_XBITS[len]!;
  }
  // Exact size of the token bits, so the writer below never checks for room.
  let bits = 3 + 14 + 3 * hclen + litLen[256]! + 3 + 7;
  for (let i = 0; i < clSyms.length; i++) bits += clLen[clSyms[i]!]! + [0, 2, 3, 7][Math.max(0, clSyms[i]! - 15)]!;
  for (let s = 0; s < 256; s++) bits += litFreq[s]! * litLen[s]!;
  for (let sym = 257; sym < 286; sym++) bits += litFreq[sym]! * (litLen[sym]! + 5); // ≤ 5 extra bits
  for (let d = 0; d < 30; d++) bits += distFreq[d]! * distLen[d]!;
  const out = new Uint8Array(Math.ceil(bits / 8) + 8);

  // The bit writer is inlined (locals, not a class): this runs a few times per save, so it
  // must be fast before the JIT has seen it often.
  let pos = 0;
  let acc = 0;
  let nb = 0;
  const put = (v: number, n: number): void => {
    acc |= v << nb;
    nb += n;
    while (nb >= 8) {
      out[pos++] = acc & 0xff;
      acc >>>= 8;
      nb -= 8;
    }
  };
  put(0, 1); // BFINAL = 0
  put(2, 2); // BTYPE = dynamic Huffman
  put(hlit - 257, 5);
  put(hdist - 1, 5);
  put(hclen - 4, 4);
  for (let i = 0; i < hclen; i++) put(clLen[CL_ORDER[i]!]!, 3);
  for (let i = 0; i < clSyms.length; i++) {
    const s = clSyms[i]!;
    put(clCode[s]!, clLen[s]!);
    if (s >= 16) put(clExtra[i]!, s === 16 ? 2 : s === 17 ? 3 : 7);
  }
  for (let p = 0; p < tokens.count; p++) {
    const part = tokens.part(p);
    for (let i = 0; i < part.length; i++) {
      const t = part[i]!;
      if (t < 256) {
        acc |= litCode[t]! << nb;
        nb += litLen[t]!;
      } else {
        const len = t & 511;
        const d = ((t >>> 9) & 7) - 1;
        const mb = matchBits[len]!;
        const mn = matchN[len]!;
        const db = distCode[d]!;
        const dn = distLen[d]!;
        for (let r = t >>> 12; r >= 0; r--) {
          acc |= mb << nb;
          nb += mn;
          while (nb >= 8) {
            out[pos++] = acc & 0xff;
            acc >>>= 8;
            nb -= 8;
          }
          acc |= db << nb;
          nb += dn;
          while (nb >= 8) {
            out[pos++] = acc & 0xff;
            acc >>>= 8;
            nb -= 8;
          }
        }
        continue;
      }
      while (nb >= 8) {
        out[pos++] = acc & 0xff;
        acc >>>= 8;
        nb -= 8;
      }
    }
  }
  put(litCode[256]!, litLen[256]!);
  put(0, 3); // empty stored block: BFINAL = 0, BTYPE = 00 …
  if (nb > 0) put(0, 8 - nb); // … padding to the byte …
  out[pos++] = 0x00; // … LEN = 0, NLEN = ~LEN
  out[pos++] = 0x00;
  out[pos++] = 0xff;
  out[pos++] = 0xff;
  return out.subarray(0, pos);
}
