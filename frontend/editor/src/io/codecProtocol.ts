/**
 * Messages between the editor and the codec worker.
 *
 * The worker keeps a mirror of the label map. Where the map came from the worker itself (it
 * decoded the revision the editor opened, or the map started empty), the mirror starts from
 * that and the page never copies the whole map. Otherwise the first save sends a full copy
 * in slices of rows, one per macrotask, so no single step of the page's thread is long.
 * Later saves transfer only the tiles changed since the previous save, and of each tile only
 * the rows that changed, so a save after a few strokes moves kilobytes, not the whole map.
 */

export interface TilePatch {
  /** Tile indices (row-major over the tile grid). */
  tiles: Int32Array<ArrayBuffer>;
  /** Per tile, the image rows [y0, y1) sent (the rows that changed): 2 numbers per tile. */
  rows: Int32Array<ArrayBuffer>;
  /** Their pixels, packed tile after tile (each tile's sent rows, tile width each). */
  pixels: Uint16Array<ArrayBuffer>;
}

/** Where the worker's mirror starts from, sent with the first encode after a (re)start. */
export type MirrorBase =
  /** The map the worker decoded for request `decodeId` (sent with keep = true). */
  | { kind: "decoded"; decodeId: number }
  /** All void: a new annotation. */
  | { kind: "zeros" }
  /** Assembled from the "rows" messages sent just before. */
  | { kind: "rows" };

export type CodecRequest =
  | {
      id: number;
      kind: "encode";
      width: number;
      height: number;
      bitDepth: 8 | 16;
      /** Set when the mirror (re)starts; null = patch the current mirror. */
      base: MirrorBase | null;
      patch: TilePatch | null;
    }
  /** keep: the worker keeps a copy of the decoded map as a possible mirror base. */
  | { id: number; kind: "decode"; png: ArrayBuffer; keep: boolean }
  /** Rows [y0, y0 + n) of a full copy of the map (no reply; the next encode uses base "rows"). */
  | { id: number; kind: "rows"; width: number; height: number; y0: number; pixels: ArrayBuffer };

export type CodecReply =
  | {
      id: number;
      ok: true;
      kind: "encode";
      png: ArrayBuffer;
      pngOffset: number;
      pngLength: number;
      ms: number;
      /** Receiving the message and applying the tile patch to the mirror. */
      patchMs: number;
      /** Tokenizing the changed rows (labelPng.ts), the only part that reads pixels. */
      filterMs: number;
      /** Huffman coding, bit packing and PNG framing. */
      deflateMs: number;
      rowsEncoded: number;
    }
  | {
      id: number;
      ok: true;
      kind: "decode";
      buffer: ArrayBuffer;
      width: number;
      height: number;
      bitDepth: 8 | 16;
      ms: number;
    }
  | { id: number; ok: false; error: string };
