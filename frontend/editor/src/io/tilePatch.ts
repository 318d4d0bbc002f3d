/**
 * Packing and applying tile patches (shared by the editor and the codec worker). A patch
 * carries, per changed tile, only the band of its rows that changed (all of them when
 * unknown), at the tile's width.
 */
import { TILE, TILE_SHIFT } from "../model/labelMap";
import type { TilePatch } from "./codecProtocol";

function tileRect(tile: number, width: number, height: number): { x: number; y: number; w: number; h: number } {
  const tilesX = Math.ceil(width / TILE);
  const x = (tile % tilesX) << TILE_SHIFT;
  const y = Math.floor(tile / tilesX) << TILE_SHIFT;
  return { x, y, w: Math.min(TILE, width - x), h: Math.min(TILE, height - y) };
}

/**
 * `rows` (optional): per tile, the changed image rows [y0, y1) within it, two numbers per
 * tile in the order of `tiles`; without it whole tiles are packed.
 */
export function packTiles(data: Uint16Array, width: number, height: number, tiles: number[], rows?: ArrayLike<number>): TilePatch {
  const bands = new Int32Array(2 * tiles.length);
  let total = 0;
  tiles.forEach((t, i) => {
    const r = tileRect(t, width, height);
    const y0 = rows ? Math.max(r.y, rows[2 * i]!) : r.y;
    const y1 = rows ? Math.min(r.y + r.h, rows[2 * i + 1]!) : r.y + r.h;
    bands[2 * i] = y0;
    bands[2 * i + 1] = Math.max(y0, y1);
    total += r.w * Math.max(0, y1 - y0);
  });
  const pixels = new Uint16Array(total);
  let off = 0;
  tiles.forEach((t, i) => {
    const r = tileRect(t, width, height);
    for (let y = bands[2 * i]!; y < bands[2 * i + 1]!; y++) {
      const start = y * width + r.x;
      pixels.set(data.subarray(start, start + r.w), off);
      off += r.w;
    }
  });
  return { tiles: Int32Array.from(tiles), rows: bands, pixels };
}

export function applyTiles(data: Uint16Array, width: number, height: number, patch: TilePatch): void {
  applyTilesTracked(data, width, height, patch, () => {});
}

/**
 * Applies a patch, calling `rowChanged(y)` for every image row in which a patch tile
 * really differs from `data` (rows of a whole-tile patch are mostly unchanged).
 */
export function applyTilesTracked(
  data: Uint16Array,
  width: number,
  height: number,
  patch: TilePatch,
  rowChanged: (y: number) => void,
): void {
  let off = 0;
  const src = patch.pixels;
  for (let i = 0; i < patch.tiles.length; i++) {
    const r = tileRect(patch.tiles[i]!, width, height);
    const y1 = patch.rows[2 * i + 1]!;
    for (let y = patch.rows[2 * i]!; y < y1; y++, off += r.w) {
      const at = y * width + r.x;
      for (let k = 0; k < r.w; k++) {
        if (data[at + k] !== src[off + k]) {
          data.set(src.subarray(off + k, off + r.w), at + k);
          rowChanged(y);
          break;
        }
      }
    }
  }
}
