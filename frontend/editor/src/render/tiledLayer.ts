/**
 * A layer of the label overlay, drawn tile by tile into a grid of canvases.
 *
 * Why a grid: browsers cap a canvas's size (Safari ~16.7 MP), so an 8K map cannot be one
 * canvas. Why tiles: a brush dab touches a handful of 256² tiles; only those are re-rendered
 * (colour table lookup into one reused ImageData, then putImageData), never the whole map.
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

  markDirty(tx0: number, ty0: number, tx1: number, ty1: number): void {
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const t = ty * this.tilesX + tx;
        if (this.dirty[t] === 0) {
          this.dirty[t] = 1;
          this.queue.push(t);
        }
      }
    }
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
    const cols = Math.ceil(w / L);
    const rows = Math.ceil(h / L);
    this.source.renderTile(x, y, w, h, L, this.pixels, TILE);
    chunk.ctx.putImageData(this.imageData, (x - chunk.x) / L, (y - chunk.y) / L, 0, 0, cols, rows);
    // Keep the overlap copies in the left / upper / upper-left neighbours up to date.
    const atLeft = x === chunk.x && ccx > 0;
    const atTop = y === chunk.y && ccy > 0;
    if (atLeft) this.putInto(ccx - 1, ccy, x, y, 1, rows);
    if (atTop) this.putInto(ccx, ccy - 1, x, y, cols, 1);
    if (atLeft && atTop) this.putInto(ccx - 1, ccy - 1, x, y, 1, 1);
  }

  private putInto(cx: number, cy: number, x: number, y: number, cols: number, rows: number): void {
    const c = this.chunks[cy * this.chunksX + cx]!;
    const L = this.level;
    c.ctx.putImageData(this.imageData, (x - c.x) / L, (y - c.y) / L, 0, 0, cols, rows);
  }
}
