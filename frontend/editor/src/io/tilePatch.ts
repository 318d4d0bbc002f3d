/** Packing and applying tile patches (shared by the editor and the codec worker). */
import { TILE, TILE_SHIFT } from "../model/labelMap";
import type { TilePatch } from "./codecProtocol";

function tileRect(tile: number, width: number, height: number): { x: number; y: number; w: number; h: number } {
  const tilesX = Math.ceil(width / TILE);
  const x = (tile % tilesX) << TILE_SHIFT;
  const y = Math.floor(tile / tilesX) << TILE_SHIFT;
  return { x, y, w: Math.min(TILE, width - x), h: Math.min(TILE, height - y) };
}

export function packTiles(data: Uint16Array, width: number, height: number, tiles: number[]): TilePatch {
  let total = 0;
  for (const t of tiles) {
    const r = tileRect(t, width, height);
    total += r.w * r.h;
  }
  const pixels = new Uint16Array(total);
  let off = 0;
  for (const t of tiles) {
    const r = tileRect(t, width, height);
    for (let row = 0; row < r.h; row++) {
      const start = (r.y + row) * width + r.x;
      pixels.set(data.subarray(start, start + r.w), off);
      off += r.w;
    }
  }
  return { tiles: Int32Array.from(tiles), pixels };
}

export function applyTiles(data: Uint16Array, width: number, height: number, patch: TilePatch): void {
  let off = 0;
  for (const t of patch.tiles) {
    const r = tileRect(t, width, height);
    for (let row = 0; row < r.h; row++) {
      data.set(patch.pixels.subarray(off, off + r.w), (r.y + row) * width + r.x);
      off += r.w;
    }
  }
}

/** Row bands [y0, y1) covered by a patch's tiles. */
export function patchRows(patch: TilePatch, width: number, height: number): Array<[number, number]> {
  const bands = new Map<number, [number, number]>();
  for (const t of patch.tiles) {
    const r = tileRect(t, width, height);
    bands.set(r.y, [r.y, r.y + r.h]);
  }
  return [...bands.values()];
}
