/**
 * Main-thread side of the codec worker. The worker mirrors the label map: the first encode
 * sends one copy (transferred), later encodes send only tiles changed since (tracked with
 * the map's dirty notifications), so saving costs the main thread almost nothing.
 */
import { decodeGrayPng, encodeGrayPng } from "../codec/png";
import { type LabelMap, TILE_SHIFT } from "../model/labelMap";
import type { CodecReply, CodecRequest, TilePatch } from "./codecProtocol";
import { packTiles } from "./tilePatch";

export interface EncodeResult {
  png: Uint8Array;
  /** Time spent in the worker (patch + row tokens + deflate + framing). */
  workerMs: number;
  patchMs: number;
  filterMs: number;
  deflateMs: number;
  /** Rows tokenized again for this encode (all of them on the first). */
  rowsEncoded: number;
  /** Main-thread time: collecting changed tiles (or the first full copy) + postMessage. */
  mainThreadMs: number;
  /** Pixels sent to the worker for this encode. */
  pixelsSent: number;
}

export interface DecodeResult {
  data: Uint16Array;
  width: number;
  height: number;
  bitDepth: 8 | 16;
  workerMs: number;
}

type Pending = { resolve: (r: CodecReply) => void; reject: (e: Error) => void };

interface MapSync {
  map: LabelMap;
  dirty: Uint8Array;
  /** Per tile, the changed image rows [y0, y1) since the last encode (valid when dirty). */
  rowsFrom: Int32Array;
  rowsTo: Int32Array;
  list: number[];
  needsFull: boolean;
}

export class CodecClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sync: MapSync | null = null;

  constructor() {
    try {
      this.worker = new Worker(new URL("./codec.worker.ts", import.meta.url), { type: "module", name: "tessera-codec" });
      this.worker.onmessage = (ev: MessageEvent<CodecReply>) => {
        const p = this.pending.get(ev.data.id);
        if (!p) return;
        this.pending.delete(ev.data.id);
        if (ev.data.ok) p.resolve(ev.data);
        else p.reject(new Error(ev.data.error));
      };
      this.worker.onerror = (ev) => {
        for (const p of this.pending.values()) p.reject(new Error(ev.message || "codec worker failed"));
        this.pending.clear();
      };
    } catch {
      // No module workers (very old browser or a test runner): same code on the main thread.
      this.worker = null;
    }
  }

  /** Starts tracking which tiles of `map` the worker's mirror lacks. */
  attach(map: LabelMap): void {
    const n = map.tileCount;
    const s: MapSync = { map, dirty: new Uint8Array(n), rowsFrom: new Int32Array(n), rowsTo: new Int32Array(n), list: [], needsFull: true };
    map.addDirtyListener((_tx0, _ty0, _tx1, _ty1, x0, y0, x1, y1) => {
      if (s.needsFull) return;
      // The exact changed pixels (the tile range given is grown for outline drawing).
      for (let ty = y0 >> TILE_SHIFT; ty <= y1 >> TILE_SHIFT; ty++) {
        for (let tx = x0 >> TILE_SHIFT; tx <= x1 >> TILE_SHIFT; tx++) {
          const t = ty * map.tilesX + tx;
          if (s.dirty[t] === 0) {
            s.dirty[t] = 1;
            s.list.push(t);
            s.rowsFrom[t] = y0;
            s.rowsTo[t] = y1 + 1;
          } else {
            if (y0 < s.rowsFrom[t]!) s.rowsFrom[t] = y0;
            if (y1 + 1 > s.rowsTo[t]!) s.rowsTo[t] = y1 + 1;
          }
        }
      }
    });
    this.sync = s;
  }

  private call(req: CodecRequest, transfer: Transferable[]): Promise<CodecReply> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error("no worker"));
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      worker.postMessage(req, transfer);
    });
  }

  /** Encodes the attached map as an index-map PNG. */
  async encode(): Promise<EncodeResult> {
    const s = this.sync;
    if (!s) throw new Error("no map attached");
    const { map } = s;
    const bitDepth = map.maxLabel() <= 255 ? 8 : 16;
    const t0 = performance.now();
    if (!this.worker) {
      const timings = { filterMs: 0, deflateMs: 0, patchMs: 0 };
      const png = await encodeGrayPng(map.data, map.width, map.height, { bitDepth, timings });
      const ms = performance.now() - t0;
      return { png, workerMs: ms, mainThreadMs: ms, pixelsSent: 0, rowsEncoded: map.height, ...timings };
    }
    let full: Uint16Array | null = null;
    let patch: TilePatch | null = null;
    if (s.needsFull) {
      full = map.data.slice(); // the one full copy; moved to the worker, not cloned
    } else if (s.list.length > 0) {
      const rows = new Int32Array(2 * s.list.length);
      s.list.forEach((t, i) => {
        rows[2 * i] = s.rowsFrom[t]!;
        rows[2 * i + 1] = s.rowsTo[t]!;
      });
      patch = packTiles(map.data, map.width, map.height, s.list, rows);
    }
    for (const t of s.list) s.dirty[t] = 0;
    s.list = [];
    s.needsFull = false;
    const transfer: Transferable[] = [];
    if (full) transfer.push(full.buffer);
    if (patch) transfer.push(patch.tiles.buffer, patch.rows.buffer, patch.pixels.buffer);
    const pixelsSent = full ? full.length : (patch?.pixels.length ?? 0);
    const id = this.nextId++;
    const promise = this.call(
      { id, kind: "encode", width: map.width, height: map.height, bitDepth, full: full ? (full.buffer as ArrayBuffer) : null, patch },
      transfer,
    );
    const mainThreadMs = performance.now() - t0;
    let reply: CodecReply;
    try {
      reply = await promise;
    } catch (e) {
      s.needsFull = true; // the mirror may have missed this patch
      throw e;
    }
    if (!reply.ok || reply.kind !== "encode") throw new Error("unexpected codec reply");
    return {
      png: new Uint8Array(reply.png, reply.pngOffset, reply.pngLength),
      workerMs: reply.ms,
      patchMs: reply.patchMs,
      filterMs: reply.filterMs,
      deflateMs: reply.deflateMs,
      rowsEncoded: reply.rowsEncoded,
      mainThreadMs,
      pixelsSent,
    };
  }

  async decode(png: Uint8Array): Promise<DecodeResult> {
    if (!this.worker) {
      const t0 = performance.now();
      const out = await decodeGrayPng(png);
      return { ...out, workerMs: performance.now() - t0 };
    }
    const own = png.byteOffset === 0 && png.byteLength === png.buffer.byteLength ? png : png.slice();
    const id = this.nextId++;
    const reply = await this.call({ id, kind: "decode", png: own.buffer as ArrayBuffer }, [own.buffer as ArrayBuffer]);
    if (!reply.ok || reply.kind !== "decode") throw new Error("unexpected codec reply");
    return {
      data: new Uint16Array(reply.buffer),
      width: reply.width,
      height: reply.height,
      bitDepth: reply.bitDepth,
      workerMs: reply.ms,
    };
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
