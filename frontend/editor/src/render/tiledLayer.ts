/**
 * A layer of the label overlay, drawn tile by tile into a grid of canvases.
 *
 * Why a grid: browsers cap a canvas's size (Safari ~16.7 MP), so an 8K map cannot be one
 * canvas. Why tiles: a brush dab touches a handful of 256² tiles; only those are re-rendered
 * (colour table lookup into one reused ImageData, then putImageData), never the whole map.
 * Each dirty tile also remembers the part of it that changed (markRect), and only that
 * part is rendered and put: a fast stroke changes a 64-px-wide band of the tiles it
 * crosses, a fraction of their 65 536 pixels.
 * Zoom and pan are CSS transforms on the parent, so they cost no JS redraw at all.
 * `level` > 1 renders every level-th pixel: used for very large maps when zoomed out.
 */
import { TILE, TILE_SHIFT } from "../model/labelMap";
import type { TileSource } from "./tileSources";

/**
 * Canvas chunk edge in image pixels (a multiple of TILE). Small on purpose: after the
 * compositor has shown a canvas, the next putImageData may copy its whole backing store
 * (copy-on-write); with 256² chunks (one tile per canvas) that copy is the tile itself,
 * not the 16 MiB of a 2048² canvas. Very large maps use 512² to keep the element count down.
 */
export function chunkSizeFor(width: number, height: number): number {
  return width * height > 16_000_000 ? 2 * TILE : TILE;
}

interface Chunk {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  x: number;
  y: number;
  w: number;
  h: number;
  /** 1 when the canvas carries a copy of its right (bottom) neighbour's first column (row). */
  padX: number;
  padY: number;
}

export class TiledLayer {
  readonly element: HTMLDivElement;
  readonly tilesX: number;
  readonly tilesY: number;
  private readonly chunksX: number;
  private readonly chunk: number;
  private readonly chunks: Chunk[] = [];
  private readonly dirty: Uint8Array;
  /** Per dirty tile, the region to redraw in image pixels (inclusive); whole tile by default. */
  private readonly rx0: Int32Array;
  private readonly ry0: Int32Array;
  private readonly rx1: Int32Array;
  private readonly ry1: Int32Array;
  private queue: number[] = [];
  private level = 1;
  private readonly imageData: ImageData;
  private readonly pixels: Uint32Array;
  private shown = true;

  constructor(
    public source: TileSource,
    className: string,
  ) {
    const { width, height } = source;
    const CHUNK = chunkSizeFor(width, height);
    this.chunk = CHUNK;
    this.tilesX = Math.ceil(width / TILE);
    this.tilesY = Math.ceil(height / TILE);
    this.dirty = new Uint8Array(this.tilesX * this.tilesY);
    this.rx0 = new Int32Array(this.dirty.length);
    this.ry0 = new Int32Array(this.dirty.length);
    this.rx1 = new Int32Array(this.dirty.length);
    this.ry1 = new Int32Array(this.dirty.length);
    this.element = document.createElement("div");
    this.element.className = `tsr-layer ${className}`;
    this.element.style.width = `${width}px`;
    this.element.style.height = `${height}px`;
    this.chunksX = Math.ceil(width / CHUNK);
    const chunksY = Math.ceil(height / CHUNK);
    for (let cy = 0; cy < chunksY; cy++) {
      for (let cx = 0; cx < this.chunksX; cx++) {
        const canvas = document.createElement("canvas");
        const x = cx * CHUNK;
        const y = cy * CHUNK;
        const w = Math.min(CHUNK, width - x);
        const h = Math.min(CHUNK, height - y);
        // Neighbouring canvases overlap by one sample: at fractional zoom each canvas edge is
        // antialiased on its own, and abutting edges would leave a visible seam.
        const padX = cx < this.chunksX - 1 ? 1 : 0;
        const padY = cy < chunksY - 1 ? 1 : 0;
        canvas.style.left = `${x}px`;
        canvas.style.top = `${y}px`;
        const ctx = canvas.getContext("2d", { alpha: true });
        if (!ctx) throw new Error("2D canvas unavailable");
        this.chunks.push({ canvas, ctx, x, y, w, h, padX, padY });
        this.element.appendChild(canvas);
      }
    }
    this.imageData = new ImageData(TILE, TILE);
    this.pixels = new Uint32Array(this.imageData.data.buffer);
    this.applyLevel(1);
  }

  get currentLevel(): number {
    return this.level;
  }

  get pending(): number {
    return this.queue.length;
  }

  set visible(on: boolean) {
    this.shown = on;
    this.element.style.display = on ? "" : "none";
  }
  get visible(): boolean {
    return this.shown;
  }

  private applyLevel(level: number): void {
    this.level = level;
    for (const c of this.chunks) {
      c.canvas.width = Math.ceil(c.w / level) + c.padX;
      c.canvas.height = Math.ceil(c.h / level) + c.padY;
      c.canvas.style.width = `${c.w + c.padX * level}px`;
      c.canvas.style.height = `${c.h + c.padY * level}px`;
    }
    this.markAll();
  }

  /** Switches resolution (1, 2, 4…): canvases are resized and every tile redrawn. */
  setLevel(level: number): void {
    if (level !== this.level) this.applyLevel(level);
  }

  /** Whole tiles (inclusive tile ranges) need a redraw. */
  markDirty(tx0: number, ty0: number, tx1: number, ty1: number): void {
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        this.addRegion(ty * this.tilesX + tx, tx << TILE_SHIFT, ty << TILE_SHIFT, ((tx + 1) << TILE_SHIFT) - 1, ((ty + 1) << TILE_SHIFT) - 1);
      }
    }
  }

  /**
   * Pixels [x0, x1]×[y0, y1] of the source changed. Grown by one sample step: the outline
   * view of a sample depends on its neighbours one step away.
   */
  markRect(x0: number, y0: number, x1: number, y1: number): void {
    const g = this.level;
    x0 = Math.max(0, x0 - g);
    y0 = Math.max(0, y0 - g);
    x1 = Math.min(this.source.width - 1, x1 + g);
    y1 = Math.min(this.source.height - 1, y1 + g);
    if (x1 < x0 || y1 < y0) return;
    for (let ty = y0 >> TILE_SHIFT; ty <= y1 >> TILE_SHIFT; ty++) {
      for (let tx = x0 >> TILE_SHIFT; tx <= x1 >> TILE_SHIFT; tx++) this.addRegion(ty * this.tilesX + tx, x0, y0, x1, y1);
    }
  }

  /** Adds a region (clipped to tile t by drawTile) to tile t's pending redraw. */
  private addRegion(t: number, x0: number, y0: number, x1: number, y1: number): void {
    if (this.dirty[t] === 0) {
      this.dirty[t] = 1;
      this.queue.push(t);
      this.rx0[t] = x0;
      this.ry0[t] = y0;
      this.rx1[t] = x1;
      this.ry1[t] = y1;
      return;
    }
    if (x0 < this.rx0[t]!) this.rx0[t] = x0;
    if (y0 < this.ry0[t]!) this.ry0[t] = y0;
    if (x1 > this.rx1[t]!) this.rx1[t] = x1;
    if (y1 > this.ry1[t]!) this.ry1[t] = y1;
  }

  markAll(): void {
    this.markDirty(0, 0, this.tilesX - 1, this.tilesY - 1);
  }

  /**
   * Redraws dirty tiles until done or `deadline` (performance.now()) passes; the rest waits
   * for the next frame so a full redraw never freezes input. Returns the tiles left.
   */
  flush(deadline: number, priority?: (tile: number) => boolean): number {
    if (!this.shown || this.queue.length === 0) return this.queue.length;
    if (priority && this.queue.length > 8) {
      // Visible tiles first, so a full redraw fills the screen before the off-screen parts.
      const first = this.queue.filter(priority);
      if (first.length !== this.queue.length) this.queue = first.concat(this.queue.filter((t) => !priority(t)));
    }
    let done = 0;
    const q = this.queue;
    while (done < q.length) {
      this.drawTile(q[done]!);
      done++;
      if ((done & 3) === 0 && performance.now() > deadline) break;
    }
    this.queue = done === q.length ? [] : q.slice(done);
    return this.queue.length;
  }

  private drawTile(t: number): void {
    this.dirty[t] = 0;
    const tx = t % this.tilesX;
    const ty = (t / this.tilesX) | 0;
    const x = tx << TILE_SHIFT;
    const y = ty << TILE_SHIFT;
    const w = Math.min(TILE, this.source.width - x);
    const h = Math.min(TILE, this.source.height - y);
    const L = this.level;
    const ccx = Math.floor(x / this.chunk);
    const ccy = Math.floor(y / this.chunk);
    const chunk = this.chunks[ccy * this.chunksX + ccx]!;
    // The tile's samples sit at x + c·L, y + r·L: redraw those inside the dirty region.
    const c0 = Math.max(0, Math.ceil((this.rx0[t]! - x) / L));
    const r0 = Math.max(0, Math.ceil((this.ry0[t]! - y) / L));
    const c1 = Math.min(Math.ceil(w / L) - 1, Math.floor((this.rx1[t]! - x) / L));
    const r1 = Math.min(Math.ceil(h / L) - 1, Math.floor((this.ry1[t]! - y) / L));
    if (c1 < c0 || r1 < r0) return;
    const cols = c1 - c0 + 1;
    const rows = r1 - r0 + 1;
    const px = x + c0 * L;
    const py = y + r0 * L;
    this.source.renderTile(px, py, Math.min(cols * L, x + w - px), Math.min(rows * L, y + h - py), L, this.pixels, TILE);
    chunk.ctx.putImageData(this.imageData, (px - chunk.x) / L, (py - chunk.y) / L, 0, 0, cols, rows);
    // Keep the overlap copies in the left / upper / upper-left neighbours up to date.
    const atLeft = c0 === 0 && x === chunk.x && ccx > 0;
    const atTop = r0 === 0 && y === chunk.y && ccy > 0;
    if (atLeft) this.putInto(ccx - 1, ccy, px, py, 1, rows);
    if (atTop) this.putInto(ccx, ccy - 1, px, py, cols, 1);
    if (atLeft && atTop) this.putInto(ccx - 1, ccy - 1, px, py, 1, 1);
  }

  /** Puts the top-left cols×rows of the rendered samples (image origin px, py) into chunk (cx, cy). */
  private putInto(cx: number, cy: number, px: number, py: number, cols: number, rows: number): void {
    const c = this.chunks[cy * this.chunksX + cx]!;
    const L = this.level;
    c.ctx.putImageData(this.imageData, (px - c.x) / L, (py - c.y) / L, 0, 0, cols, rows);
  }
}
