/**
 * Main-thread side of the codec worker. The worker mirrors the label map. When the map came
 * from the worker (it decoded the opened revision) or started empty, the mirror starts from
 * that and the page never copies the map; otherwise the first encode sends a copy in slices
 * of rows, one per macrotask. Later encodes send only tiles changed since (tracked with the
 * map's dirty notifications), so saving costs the main thread almost nothing.
 */
import { decodeGrayPng, encodeGrayPng } from "../codec/png";
import { type LabelMap, TILE_SHIFT } from "../model/labelMap";
import type { CodecReply, CodecRequest, MirrorBase, TilePatch } from "./codecProtocol";
import { packTiles } from "./tilePatch";

/** What the worker already holds of an attached map. */
export type MapOrigin =
  /** The map is (a copy of) what decode() returned with this id, asked with keep = true. */
  | { decodeId: number }
  /** All void. */
  | "zeros"
  /** Unknown to the worker: the next encode sends a full copy. */
  | null;

/** Pixels per slice of a full copy: ~2 MB, about a millisecond of copying. */
const SLICE_PIXELS = 1 << 20;

/** A macrotask boundary that background-tab timer throttling does not stretch. */
function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === "undefined") return new Promise((r) => setTimeout(r, 0));
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

export interface EncodeResult {
  png: Uint8Array;
  /** Time spent in the worker (patch + row tokens + deflate + framing). */
  workerMs: number;
  patchMs: number;
  filterMs: number;
  deflateMs: number;
  /** Rows tokenized again for this encode (all of them on the first). */
  rowsEncoded: number;
  /** Main-thread time in all: collecting changed tiles (or the slices of a full copy) + postMessage. */
  mainThreadMs: number;
  /** The longest single step of it (the page's thread is free between slices). */
  mainThreadMaxMs: number;
  /** Pixels sent to the worker for this encode. */
  pixelsSent: number;
}

export interface DecodeResult {
  data: Uint16Array;
  width: number;
  height: number;
  bitDepth: 8 | 16;
  workerMs: number;
  /** Pass to attach()/rebase() when this map becomes the edited one (decode with keep). */
  decodeId: number | null;
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
  /** Where the worker's mirror restarts from at the next encode (null: it is up to date). */
  base: MirrorBase | null;
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

  /**
   * Starts tracking which tiles of `map` the worker's mirror lacks. `origin` says what the
   * worker already has (see MapOrigin); with null the first encode sends a full copy.
   */
  attach(map: LabelMap, origin: MapOrigin = null): void {
    const n = map.tileCount;
    const s: MapSync = { map, dirty: new Uint8Array(n), rowsFrom: new Int32Array(n), rowsTo: new Int32Array(n), list: [], needsFull: true, base: null };
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
    this.rebase(origin);
  }

  /** After the map was replaced wholesale: what the worker has of the new content. */
  rebase(origin: MapOrigin): void {
    const s = this.sync;
    if (!s) throw new Error("no map attached");
    for (const t of s.list) s.dirty[t] = 0;
    s.list = [];
    if (origin === null || !this.worker) {
      s.needsFull = true;
      s.base = null;
    } else {
      s.needsFull = false;
      s.base = origin === "zeros" ? { kind: "zeros" } : { kind: "decoded", decodeId: origin.decodeId };
    }
  }

  private call(req: CodecRequest, transfer: Transferable[]): Promise<CodecReply> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error("no worker"));
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      worker.postMessage(req, transfer);
    });
  }

  private encodeQueue: Promise<unknown> = Promise.resolve();

  /**
   * Encodes the attached map as an index-map PNG. `atSnapshot` runs synchronously at the
   * moment the pixels are taken (after any slices of a full copy): a caller that needs the
   * segment table or version of exactly the encoded map reads them there.
   */
  encode(atSnapshot?: () => void): Promise<EncodeResult> {
    const run = this.encodeQueue.then(
      () => this.encodeOnce(atSnapshot, true),
      () => this.encodeOnce(atSnapshot, true),
    );
    this.encodeQueue = run.catch(() => undefined);
    return run;
  }

  private async encodeOnce(atSnapshot: (() => void) | undefined, retry: boolean): Promise<EncodeResult> {
    const s = this.sync;
    if (!s) throw new Error("no map attached");
    const { map } = s;
    if (!this.worker) {
      atSnapshot?.();
      const t0 = performance.now();
      const bitDepth = map.maxLabel() <= 255 ? 8 : 16;
      const timings = { filterMs: 0, deflateMs: 0, patchMs: 0 };
      const png = await encodeGrayPng(map.data, map.width, map.height, { bitDepth, timings });
      const ms = performance.now() - t0;
      return { png, workerMs: ms, mainThreadMs: ms, mainThreadMaxMs: ms, pixelsSent: 0, rowsEncoded: map.height, ...timings };
    }
    let mainThreadMs = 0;
    let mainThreadMaxMs = 0;
    let pixelsSent = 0;
    let base = s.base;
    // Most of the map changed (replaced wholesale in the page): slices beat one huge patch.
    if (!s.needsFull && s.list.length > map.tileCount / 2) s.needsFull = true;
    if (s.needsFull) {
      // Dirty tracking runs from the first slice on: rows changed after their slice was
      // sent travel in the patch of the final step.
      s.needsFull = false;
      for (const t of s.list) s.dirty[t] = 0;
      s.list = [];
      const { width: w, height: h } = map;
      const rowsPerSlice = Math.max(1, Math.floor(SLICE_PIXELS / w));
      for (let y0 = 0; y0 < h; y0 += rowsPerSlice) {
        const t = performance.now();
        const y1 = Math.min(h, y0 + rowsPerSlice);
        const pixels = map.data.slice(y0 * w, y1 * w);
        const req: CodecRequest = { id: this.nextId++, kind: "rows", width: w, height: h, y0, pixels: pixels.buffer as ArrayBuffer };
        this.worker.postMessage(req, [pixels.buffer]);
        pixelsSent += y1 * w - y0 * w;
        const dt = performance.now() - t;
        mainThreadMs += dt;
        mainThreadMaxMs = Math.max(mainThreadMaxMs, dt);
        await yieldToEventLoop();
        if (!this.worker) throw new Error("codec worker stopped");
      }
      base = { kind: "rows" };
    }
    s.base = null;
    // The snapshot: from here to postMessage nothing else runs on this thread.
    const t0 = performance.now();
    atSnapshot?.();
    const bitDepth = map.maxLabel() <= 255 ? 8 : 16;
    let patch: TilePatch | null = null;
    if (s.list.length > 0) {
      const rows = new Int32Array(2 * s.list.length);
      s.list.forEach((t, i) => {
        rows[2 * i] = s.rowsFrom[t]!;
        rows[2 * i + 1] = s.rowsTo[t]!;
      });
      patch = packTiles(map.data, map.width, map.height, s.list, rows);
    }
    for (const t of s.list) s.dirty[t] = 0;
    s.list = [];
    const transfer: Transferable[] = [];
    if (patch) transfer.push(patch.tiles.buffer, patch.rows.buffer, patch.pixels.buffer);
    pixelsSent += patch?.pixels.length ?? 0;
    const id = this.nextId++;
    const promise = this.call({ id, kind: "encode", width: map.width, height: map.height, bitDepth, base, patch }, transfer);
    const dt = performance.now() - t0;
    mainThreadMs += dt;
    mainThreadMaxMs = Math.max(mainThreadMaxMs, dt);
    let reply: CodecReply;
    try {
      reply = await promise;
    } catch (e) {
      s.needsFull = true; // the mirror may have missed this patch
      // A lost mirror (worker restarted its state, kept decode gone): once more with a full copy.
      if (retry && e instanceof Error && e.message.startsWith("codec mirror missing")) return this.encodeOnce(atSnapshot, false);
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
      mainThreadMaxMs,
      pixelsSent,
    };
  }

  /** `keep`: the worker keeps a copy, so attaching/rebasing onto this map costs the page nothing. */
  async decode(png: Uint8Array, keep = false): Promise<DecodeResult> {
    if (!this.worker) {
      const t0 = performance.now();
      const out = await decodeGrayPng(png);
      return { ...out, workerMs: performance.now() - t0, decodeId: null };
    }
    const own = png.byteOffset === 0 && png.byteLength === png.buffer.byteLength ? png : png.slice();
    const id = this.nextId++;
    const reply = await this.call({ id, kind: "decode", png: own.buffer as ArrayBuffer, keep }, [own.buffer as ArrayBuffer]);
    if (!reply.ok || reply.kind !== "decode") throw new Error("unexpected codec reply");
    return {
      data: new Uint16Array(reply.buffer),
      width: reply.width,
      height: reply.height,
      bitDepth: reply.bitDepth,
      workerMs: reply.ms,
      decodeId: keep ? id : null,
    };
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
