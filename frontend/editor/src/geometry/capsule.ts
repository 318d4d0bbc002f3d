/**
 * Capsule rasterisation: the set of pixels whose centre lies within `radius` of the
 * segment p0→p1. Stamping one capsule between consecutive pointer samples (instead of one
 * disc per sample) is what keeps fast strokes free of gaps, at any pointer speed.
 *
 * The capsule is convex, so each row meets it in one interval: the union of the intervals
 * of the two end discs and of the rectangle swept between them.
 */

export interface Point {
  x: number;
  y: number;
}

/** Calls `span(y, x0, x1)` (inclusive pixel columns) for every covered row, top to bottom. */
export function rasterizeCapsule(
  p0: Point,
  p1: Point,
  radius: number,
  span: (y: number, x0: number, x1: number) => void,
  clip?: { width: number; height: number },
): void {
  const r = Math.max(radius, 0.5);
  const yTop = Math.ceil(Math.min(p0.y, p1.y) - r - 0.5);
  const yBot = Math.floor(Math.max(p0.y, p1.y) + r - 0.5);
  const y0 = clip ? Math.max(0, yTop) : yTop;
  const y1 = clip ? Math.min(clip.height - 1, yBot) : yBot;
  const dx = p1.x - p0.x;
  const dy = p1.y - p0.y;
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  const len = Math.sqrt(len2);
  // Runs for every row of every stamp while painting: no arrays or closures per row.
  for (let y = y0; y <= y1; y++) {
    const yc = y + 0.5;
    let lo = Infinity;
    let hi = -Infinity;
    // End discs.
    let ddy = yc - p0.y;
    let rem = r2 - ddy * ddy;
    if (rem >= 0) {
      const h = Math.sqrt(rem);
      if (p0.x - h < lo) lo = p0.x - h;
      if (p0.x + h > hi) hi = p0.x + h;
    }
    ddy = yc - p1.y;
    rem = r2 - ddy * ddy;
    if (rem >= 0) {
      const h = Math.sqrt(rem);
      if (p1.x - h < lo) lo = p1.x - h;
      if (p1.x + h > hi) hi = p1.x + h;
    }
    // Swept rectangle: 0 ≤ t ≤ 1 along the axis and |perpendicular distance| ≤ r,
    // both linear in x on this row, so each bounds x by one half-line: k·u + c ≥ 0 with
    // u = x - p0.x, giving u ≥ -c/k (k > 0) or u ≤ -c/k (k < 0).
    if (len2 > 0) {
      let a = -Infinity;
      let b = Infinity;
      let empty = false;
      // t(x) = ((x - p0.x)·dx + (yc - p0.y)·dy) / len2 ∈ [0, 1]
      const tc = (yc - p0.y) * dy;
      // perp(x) = ((x - p0.x)·dy - (yc - p0.y)·dx) / len ∈ [-r, r]
      const pc = -(yc - p0.y) * dx;
      for (let j = 0; j < 4; j++) {
        let k: number;
        let c: number;
        if (j === 0) {
          k = dx; // dx·u + tc ≥ 0
          c = tc;
        } else if (j === 1) {
          k = -dx; // len2 - (dx·u + tc) ≥ 0
          c = -tc + len2;
        } else if (j === 2) {
          k = dy; // dy·u + pc + r·len ≥ 0
          c = pc + r * len;
        } else {
          k = -dy; // r·len - (dy·u + pc) ≥ 0
          c = -pc + r * len;
        }
        if (k === 0) {
          if (c < 0) empty = true;
        } else if (k > 0) {
          a = Math.max(a, -c / k);
        } else {
          b = Math.min(b, -c / k);
        }
      }
      if (!empty && a <= b) {
        if (p0.x + a < lo) lo = p0.x + a;
        if (p0.x + b > hi) hi = p0.x + b;
      }
    }
    if (lo > hi) continue;
    // Pixel x is covered when its centre x + 0.5 lies in [lo, hi].
    let x0 = Math.ceil(lo - 0.5);
    let x1 = Math.floor(hi - 0.5);
    if (clip) {
      if (x0 < 0) x0 = 0;
      if (x1 > clip.width - 1) x1 = clip.width - 1;
    }
    if (x0 <= x1) span(y, x0, x1);
  }
}
