/** PNG framing shared by the encoders: signature, chunks with CRC-32, IHDR for grayscale. */

export const SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

/**
 * A whole grayscale PNG (IHDR, one IDAT, IEND) in one buffer. The IDAT payload is `idat`,
 * or the concatenation of its parts (copied once, straight into place).
 */
export function pngFile(width: number, height: number, bitDepth: 8 | 16, idat: Uint8Array | Uint8Array[]): Uint8Array {
  const parts = Array.isArray(idat) ? idat : [idat];
  let idatLength = 0;
  for (const p of parts) idatLength += p.length;
  const out = new Uint8Array(8 + 25 + 12 + idatLength + 12);
  const dv = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  let o = 8;
  const chunk = (type: string, len: number, fill: (at: number) => void): void => {
    dv.setUint32(o, len);
    for (let i = 0; i < 4; i++) out[o + 4 + i] = type.charCodeAt(i);
    fill(o + 8);
    dv.setUint32(o + 8 + len, (crc32(out.subarray(o + 4, o + 8 + len)) ^ 0xffffffff) >>> 0);
    o += 12 + len;
  };
  chunk("IHDR", 13, (at) => {
    dv.setUint32(at, width);
    dv.setUint32(at + 4, height);
    out[at + 8] = bitDepth;
    out[at + 9] = 0; // grayscale
    out[at + 10] = 0; // deflate
    out[at + 11] = 0; // adaptive filtering
    out[at + 12] = 0; // no interlace
  });
  chunk("IDAT", idatLength, (at) => {
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
  });
  chunk("IEND", 0, () => {});
  return out;
}
