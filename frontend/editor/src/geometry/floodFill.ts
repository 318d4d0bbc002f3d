/**
 * Bucket fill: the 4-connected region of equal label under the seed becomes `value`.
 * Scanline algorithm with an explicit stack (one entry per run, not per pixel), so a fill
 * of a 33 MP void region neither recurses nor allocates per pixel.
 */
import type { LabelMap, WriteGuard } from "../model/labelMap";

/** Returns the number of pixels written (0 when the region may not be overwritten). */
export function floodFill(map: LabelMap, sx: number, sy: number, value: number, guard: WriteGuard): number {
  const { width: w, height: h, data: d } = map;
  if (sx < 0 || sy < 0 || sx >= w || sy >= h) return 0;
  const seed = d[sy * w + sx]!;
  if (seed === value || guard[seed] !== 1) return 0;
  // The region's own label is the only one it may write over; the guard was checked above.
  const onlySeed = new Uint8Array(guard.length);
  onlySeed[seed] = 1;
  let written = 0;
  const stack: number[] = [sx, sy];
  while (stack.length > 0) {
    const y = stack.pop()!;
    const x = stack.pop()!;
    const row = y * w;
    if (d[row + x] !== seed) continue;
    let lx = x;
    while (lx > 0 && d[row + lx - 1] === seed) lx--;
    let rx = x;
    while (rx < w - 1 && d[row + rx + 1] === seed) rx++;
    written += map.writeRowSpan(y, lx, rx, value, onlySeed);
    for (const ny of [y - 1, y + 1]) {
      if (ny < 0 || ny >= h) continue;
      const nrow = ny * w;
      let inRun = false;
      for (let nx = lx; nx <= rx; nx++) {
        const match = d[nrow + nx] === seed;
        if (match && !inRun) stack.push(nx, ny);
        inRun = match;
      }
    }
  }
  return written;
}
