/**
 * The label map: one Uint16Array of segment ids at full image resolution (0 = void).
 *
 * Every pixel has exactly one owner, so "who is on top" is never stored: tools decide it
 * at write time through a WriteGuard. The map is split in TILE×TILE tiles, the unit of
 * rendering (dirty flags), undo (tile snapshots) and change tracking.
 */

export const TILE_SHIFT = 8;
export const TILE = 1 << TILE_SHIFT;
/** Segment ids are 16-bit: the map's element type bounds them. */
export const MAX_LABEL = 0xffff;

/**
 * guard[label] === 1 when a pixel currently holding `label` may be overwritten by the
 * running operation. A flat 64 KiB table keeps the inner write loop to one load.
 */
export type WriteGuard = Uint8Array;

export function newGuard(): WriteGuard {
  return new Uint8Array(MAX_LABEL + 1);
}

/** Told before a tile is first modified, so undo can snapshot its "before" bytes. */
export interface TileWriteObserver {
  beforeTileWrite(tile: number): void;
}

/**
 * Told what changed: the tiles (inclusive ranges, covering the changed pixels grown by one,
 * because the outline view of a pixel depends on its 4 neighbours) and the changed pixels'
 * bounding box itself (inclusive), so a layer can redraw just that part of a tile.
 */
export type DirtyListener = (
  tx0: number,
  ty0: number,
  tx1: number,
  ty1: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
) => void;

export interface TileRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class LabelMap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint16Array;
  readonly tilesX: number;
  readonly tilesY: number;
  /** Pixel count per label, kept up to date by every write (index = segment id). */
  readonly area = new Uint32Array(MAX_LABEL + 1);
  /** Bumped on every effective change; the editor compares it with the last saved value. */
  version = 0;
  observer: TileWriteObserver | null = null;
  private readonly dirtyListeners: DirtyListener[] = [];
  /** Open batch (see batch()): the union of its changes, reported once at its end. */
  private batchDepth = 0;
  private bx0 = 0;
  private by0 = 0;
  private bx1 = -1;
  private by1 = -1;

  constructor(width: number, height: number, data?: Uint16Array) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`invalid map size ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    if (data && data.length !== width * height) {
      throw new Error(`map data has ${data.length} pixels, expected ${width * height}`);
    }
    this.data = data ?? new Uint16Array(width * height);
    this.tilesX = Math.ceil(width / TILE);
    this.tilesY = Math.ceil(height / TILE);
    this.recountAreas();
  }

  get tileCount(): number {
    return this.tilesX * this.tilesY;
  }

  tileRect(tile: number): TileRect {
    const tx = tile % this.tilesX;
    const ty = (tile / this.tilesX) | 0;
    const x = tx << TILE_SHIFT;
    const y = ty << TILE_SHIFT;
    return { x, y, w: Math.min(TILE, this.width - x), h: Math.min(TILE, this.height - y) };
  }

  recountAreas(): void {
    const area = this.area;
    area.fill(0);
    const d = this.data;
    for (let i = 0; i < d.length; i++) area[d[i]]++;
  }

  getLabel(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    return this.data[y * this.width + x];
  }

  /** Highest label that owns at least one pixel (decides 8- vs 16-bit PNG). */
  maxLabel(): number {
    for (let l = MAX_LABEL; l > 0; l--) if (this.area[l] > 0) return l;
    return 0;
  }

  addDirtyListener(listener: DirtyListener): () => void {
    this.dirtyListeners.push(listener);
    return () => {
      const i = this.dirtyListeners.indexOf(listener);
      if (i >= 0) this.dirtyListeners.splice(i, 1);
    };
  }

  /**
   * Reports the changed pixel rectangle (inclusive) to the dirty listeners, or, inside a
   * batch, adds it to the batch's rectangle.
   */
  markDirtyRect(x0: number, y0: number, x1: number, y1: number): void {
    if (this.batchDepth > 0) {
      if (this.bx1 < this.bx0) {
        this.bx0 = x0;
        this.by0 = y0;
        this.bx1 = x1;
        this.by1 = y1;
      } else {
        if (x0 < this.bx0) this.bx0 = x0;
        if (y0 < this.by0) this.by0 = y0;
        if (x1 > this.bx1) this.bx1 = x1;
        if (y1 > this.by1) this.by1 = y1;
      }
      return;
    }
    const tx0 = Math.max(0, x0 - 1) >> TILE_SHIFT;
    const ty0 = Math.max(0, y0 - 1) >> TILE_SHIFT;
    const tx1 = Math.min(this.width - 1, x1 + 1) >> TILE_SHIFT;
    const ty1 = Math.min(this.height - 1, y1 + 1) >> TILE_SHIFT;
    for (const l of this.dirtyListeners) l(tx0, ty0, tx1, ty1, x0, y0, x1, y1);
  }

  markAllDirty(): void {
    for (const l of this.dirtyListeners) l(0, 0, this.tilesX - 1, this.tilesY - 1, 0, 0, this.width - 1, this.height - 1);
  }

  /**
   * Runs `fn` with dirty reports merged into one bounding box, reported when it returns.
   * For compact writes (a brush stamp: tens of row spans), not for scattered ones (a fill),
   * whose bounding box would cover tiles that did not change.
   */
  batch<T>(fn: () => T): T {
    if (this.batchDepth++ === 0) {
      this.bx0 = 0;
      this.by0 = 0;
      this.bx1 = -1;
      this.by1 = -1;
    }
    try {
      return fn();
    } finally {
      if (--this.batchDepth === 0 && this.bx1 >= this.bx0) this.markDirtyRect(this.bx0, this.by0, this.bx1, this.by1);
    }
  }

  private touchRow(y: number, x0: number, x1: number): void {
    const obs = this.observer;
    if (!obs) return;
    const rowBase = (y >> TILE_SHIFT) * this.tilesX;
    for (let tx = x0 >> TILE_SHIFT; tx <= x1 >> TILE_SHIFT; tx++) obs.beforeTileWrite(rowBase + tx);
  }

  /**
   * Writes `value` into row y, columns x0..x1 (inclusive, clipped), where the guard allows.
   * Returns the number of pixels that changed.
   */
  writeRowSpan(y: number, x0: number, x1: number, value: number, guard: WriteGuard): number {
    if (y < 0 || y >= this.height) return 0;
    if (x0 < 0) x0 = 0;
    if (x1 >= this.width) x1 = this.width - 1;
    if (x1 < x0) return 0;
    this.touchRow(y, x0, x1);
    const d = this.data;
    const area = this.area;
    const base = y * this.width;
    let changed = 0;
    let first = -1;
    let last = -1;
    for (let i = base + x0, end = base + x1; i <= end; i++) {
      const old = d[i];
      if (old !== value && guard[old] === 1) {
        d[i] = value;
        area[old]--;
        changed++;
        if (first < 0) first = i;
        last = i;
      }
    }
    if (changed > 0) {
      area[value] += changed;
      this.version++;
      this.markDirtyRect(first - base, y, last - base, y);
    }
    return changed;
  }

  /** Column counterpart of writeRowSpan: column x, rows y0..y1 inclusive. */
  writeColumnRun(x: number, y0: number, y1: number, value: number, guard: WriteGuard): number {
    if (x < 0 || x >= this.width) return 0;
    if (y0 < 0) y0 = 0;
    if (y1 >= this.height) y1 = this.height - 1;
    if (y1 < y0) return 0;
    const obs = this.observer;
    if (obs) {
      const tx = x >> TILE_SHIFT;
      for (let ty = y0 >> TILE_SHIFT; ty <= y1 >> TILE_SHIFT; ty++) obs.beforeTileWrite(ty * this.tilesX + tx);
    }
    const d = this.data;
    const area = this.area;
    const w = this.width;
    let changed = 0;
    let first = -1;
    let last = -1;
    for (let y = y0, i = y0 * w + x; y <= y1; y++, i += w) {
      const old = d[i];
      if (old !== value && guard[old] === 1) {
        d[i] = value;
        area[old]--;
        changed++;
        if (first < 0) first = y;
        last = y;
      }
    }
    if (changed > 0) {
      area[value] += changed;
      this.version++;
      this.markDirtyRect(x, first, x, last);
    }
    return changed;
  }

  /** Replaces every pixel of `from` by `to` (delete, merge); observer-aware. */
  relabel(from: number, to: number): number {
    if (from === to || this.area[from] === 0) return 0;
    const guard = newGuard();
    guard[from] = 1;
    let changed = 0;
    const w = this.width;
    const d = this.data;
    for (let y = 0; y < this.height; y++) {
      // Scan first so untouched rows do not get snapshotted for undo.
      const base = y * w;
      let x0 = -1;
      let x1 = -1;
      for (let x = 0; x < w; x++) {
        if (d[base + x] === from) {
          if (x0 < 0) x0 = x;
          x1 = x;
        }
      }
      if (x0 >= 0) changed += this.writeRowSpan(y, x0, x1, to, guard);
    }
    return changed;
  }

  /** Copy of one tile's pixels, packed (tile width × tile height). */
  readTile(tile: number): Uint16Array {
    const r = this.tileRect(tile);
    const out = new Uint16Array(r.w * r.h);
    for (let row = 0; row < r.h; row++) {
      const start = (r.y + row) * this.width + r.x;
      out.set(this.data.subarray(start, start + r.w), row * r.w);
    }
    return out;
  }

  /** Overwrites a tile with packed pixels (undo/redo), keeping areas exact. */
  writeTile(tile: number, pixels: Uint16Array): void {
    const r = this.tileRect(tile);
    const d = this.data;
    const area = this.area;
    let k = 0;
    let changed = false;
    for (let row = 0; row < r.h; row++) {
      let i = (r.y + row) * this.width + r.x;
      for (let col = 0; col < r.w; col++, i++, k++) {
        const next = pixels[k];
        const old = d[i];
        if (old !== next) {
          area[old]--;
          area[next]++;
          d[i] = next;
          changed = true;
        }
      }
    }
    if (changed) {
      this.version++;
      this.markDirtyRect(r.x, r.y, r.x + r.w - 1, r.y + r.h - 1);
    }
  }
}
