/**
 * JIT warm-up for the label-PNG encoder.
 *
 * A save runs the encoder once, so without help its hot loops would run in V8's interpreter
 * and baseline tiers on the first save (a full 4K encode: ~100 ms cold vs ~25 ms optimised).
 * The codec worker runs these steps while it is idle after starting, each on a small
 * synthetic map that exercises every path of the row coder and the Huffman back end (Up and
 * Sub rows, zero runs, residual runs, 8- and 16-bit), so the optimising compiler has seen
 * them before real work arrives. Each step is short, so a real request waits for at most one.
 */
import { LabelPngEncoder } from "./labelPng";

const W = 1024;
const H = 48;

/** A small label map with wavy bands, blobs and a noisy strip (Sub rows); `offset` > 255 makes it 16-bit. */
export function warmUpMap(offset: number, seed: number): Uint16Array {
  const data = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const band = y + 6 * Math.sin((x + seed * 37) / 60) > H / 2 ? 1 : 0;
      const dx = x - ((seed * 211) % W);
      const dy = y - H / 2;
      const blob = dx * dx + 4 * dy * dy < 900 ? 2 : 0;
      const noisy = x > W - 96 && y > H - 8 ? ((x * 7 + y * 3) >> 2) % 5 : 0;
      data[y * W + x] = offset + (blob || band) + noisy;
    }
  }
  return data;
}

/** Steps to run; a few million pixels in all, enough for the optimising tier. */
export const WARM_UP_STEPS = 24;

/** One step: encode a small map (alternating 8- and 16-bit) from scratch. Returns the PNG size. */
export function warmUpStep(step: number): number {
  const sixteen = step % 4 === 3;
  const data = warmUpMap(sixteen ? 300 : 1, step);
  const enc = new LabelPngEncoder(W, H);
  let n = enc.encode(data, sixteen ? 16 : 8).length;
  // The incremental path too: a changed row re-encoded.
  data[(H >> 1) * W + 5] ^= 1;
  enc.rowChanged(H >> 1);
  n += enc.encode(data, sixteen ? 16 : 8).length;
  return n;
}
