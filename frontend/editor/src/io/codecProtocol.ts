/**
 * Messages between the editor and the codec worker.
 *
 * The worker keeps a mirror of the label map. The first save transfers a full copy; later
 * saves transfer only the tiles changed since the previous save, and of each tile only the
 * rows that changed, so a save after a few strokes moves kilobytes, not the whole map.
 */

export interface TilePatch {
  /** Tile indices (row-major over the tile grid). */
  tiles: Int32Array<ArrayBuffer>;
  /** Per tile, the image rows [y0, y1) sent (the rows that changed): 2 numbers per tile. */
  rows: Int32Array<ArrayBuffer>;
  /** Their pixels, packed tile after tile (each tile's sent rows, tile width each). */
  pixels: Uint16Array<ArrayBuffer>;
}

export type CodecRequest =
  | {
      id: number;
      kind: "encode";
      width: number;
      height: number;
      bitDepth: 8 | 16;
      /** A full map (first save, or after the mirror was lost). */
      full: ArrayBuffer | null;
      patch: TilePatch | null;
    }
  | { id: number; kind: "decode"; png: ArrayBuffer };

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
