/**
 * Polygon rasterisation with exactly pycocotools' pixel rule: a port of rleFrPoly from
 * cocoapi's maskApi.c. Exports (and the backend) rasterise COCO polygons with that code, so
 * a polygon drawn here must cover the very same pixels, not "nearly" the same.
 *
 * The C code upsamples vertices by 5 with (int)(5x+.5) — truncation toward zero, which is
 * Math.trunc, not Math.round or floor — walks each edge as a digital line, keeps the points
 * where the walk changes column (y-boundary crossings), maps them back to pixel rows and
 * turns them into a column-major run-length encoding. Unsigned 32-bit arithmetic of the C
 * code does not matter here because every position is in [0, h·w].
 */

/** Column-major RLE counts: alternating runs of 0s and 1s, starting with 0s (COCO style). */
export function rleFromPolygon(xy: ArrayLike<number>, h: number, w: number): number[] {
  const k = Math.floor(xy.length / 2);
  const scale = 5;
  if (k === 0) return [h * w];
  const x = new Int32Array(k + 1);
  const y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2]! + 0.5);
  x[k] = x[0]!;
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1]! + 0.5);
  y[k] = y[0]!;
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j]! - x[j + 1]!), Math.abs(y[j]! - y[j + 1]!)) + 1;
  const u = new Int32Array(m);
  const v = new Int32Array(m);
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j]!;
    let xe = x[j + 1]!;
    let ys = y[j]!;
    let ye = y[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = Math.trunc(ys + s * t + 0.5);
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = Math.trunc(xs + s * t + 0.5);
        m++;
      }
    }
  }
  // Points along the y-boundary, downsampled back to pixel units.
  const total = m;
  const bx: number[] = [];
  const by: number[] = [];
  for (let j = 1; j < total; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    bx.push(xd);
    by.push(yd);
  }
  // Toggle positions (column-major), sorted, turned into run lengths.
  const n = bx.length;
  const a = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) a[j] = bx[j]! * h + by[j]!;
  a[n] = h * w;
  a.sort();
  let p = 0;
  for (let j = 0; j <= n; j++) {
    const t = a[j]!;
    a[j] = t - p;
    p = t;
  }
  // Zero-length runs cancel: merge the run after them into the previous one.
  const b: number[] = [];
  let j = 0;
  b.push(a[j++]!);
  while (j <= n) {
    if (a[j]! > 0) {
      b.push(a[j++]!);
    } else {
      j++;
      if (j <= n) b[b.length - 1]! += a[j++]!;
    }
  }
  return b;
}

/** Calls `run(x, y0, y1)` (inclusive rows) for every run of 1s of a column-major RLE. */
export function forEachRleColumnRun(
  counts: readonly number[],
  h: number,
  run: (x: number, y0: number, y1: number) => void,
): void {
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const len = counts[i]!;
    if (i % 2 === 1 && len > 0) {
      let start = pos;
      const end = pos + len; // exclusive
      while (start < end) {
        const x = Math.floor(start / h);
        const y0 = start - x * h;
        const colEnd = Math.min(end, (x + 1) * h);
        run(x, y0, y0 + (colEnd - start) - 1);
        start = colEnd;
      }
    }
    pos += len;
  }
}
