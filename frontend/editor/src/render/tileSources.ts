/**
 * What a tiled layer draws. A source renders one tile (sampled every `level` pixels) into
 * a Uint32 RGBA buffer; the layer takes care of canvases and dirty tracking.
 */
import type { LabelMap } from "../model/labelMap";

export interface TileSource {
  readonly width: number;
  readonly height: number;
  /** Renders image pixels [x, x+w)×[y, y+h) sampled every `level` px into out (row stride `stride`). */
  renderTile(x: number, y: number, w: number, h: number, level: number, out: Uint32Array, stride: number): void;
}

/** The label map through the colour table, filled or as outlines only. */
export class LabelTileSource implements TileSource {
  outline = false;
  constructor(
    private readonly map: LabelMap,
    public lut: Uint32Array,
  ) {}

  get width(): number {
    return this.map.width;
  }
  get height(): number {
    return this.map.height;
  }

  renderTile(x: number, y: number, w: number, h: number, level: number, out: Uint32Array, stride: number): void {
    const d = this.map.data;
    const W = this.map.width;
    const H = this.map.height;
    const lut = this.lut;
    const cols = Math.ceil(w / level);
    const rows = Math.ceil(h / level);
    if (!this.outline) {
      for (let j = 0; j < rows; j++) {
        let i = (y + j * level) * W + x;
        let o = j * stride;
        if (level === 1) {
          for (let c = 0; c < cols; c++) out[o++] = lut[d[i++]!]!;
        } else {
          for (let c = 0; c < cols; c++, i += level) out[o++] = lut[d[i]!]!;
        }
      }
      return;
    }
    // Outline: a pixel is drawn when a 4-neighbour (one sample step away) has another label.
    for (let j = 0; j < rows; j++) {
      const py = y + j * level;
      let o = j * stride;
      for (let c = 0; c < cols; c++) {
        const px = x + c * level;
        const i = py * W + px;
        const v = d[i]!;
        const edge =
          (px >= level && d[i - level] !== v) ||
          (px + level < W && d[i + level] !== v) ||
          (py >= level && d[i - level * W] !== v) ||
          (py + level < H && d[i + level * W] !== v);
        out[o++] = edge ? lut[v]! : 0;
      }
    }
  }
}

/**
 * Review: pixels whose class differs between the submission and the reference are drawn in
 * one highlight colour. Ids are compared through category tables because segment ids of two
 * revisions need not correspond; with `instances` set, a different id of a thing also counts.
 */
export class DiffTileSource implements TileSource {
  constructor(
    private readonly a: LabelMap,
    private readonly b: LabelMap,
    public catA: Int32Array,
    public catB: Int32Array,
    public color: number,
  ) {}

  get width(): number {
    return this.a.width;
  }
  get height(): number {
    return this.a.height;
  }

  renderTile(x: number, y: number, w: number, h: number, level: number, out: Uint32Array, stride: number): void {
    const da = this.a.data;
    const db = this.b.data;
    const W = this.a.width;
    const { catA, catB, color } = this;
    const cols = Math.ceil(w / level);
    const rows = Math.ceil(h / level);
    for (let j = 0; j < rows; j++) {
      let i = (y + j * level) * W + x;
      let o = j * stride;
      for (let c = 0; c < cols; c++, i += level) out[o++] = catA[da[i]!] !== catB[db[i]!] ? color : 0;
    }
  }
}
