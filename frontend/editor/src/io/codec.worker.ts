/// <reference lib="webworker" />
/**
 * PNG encode/decode off the main thread. Buffers arrive and leave as transferables (moved,
 * never structured-clone copied); the map itself is mirrored here and patched by tiles.
 */
import { decodeGrayPng, IncrementalFilter, pngFromFiltered } from "../codec/png";
import type { CodecReply, CodecRequest } from "./codecProtocol";
import { applyTiles, patchRows } from "./tilePatch";

declare const self: DedicatedWorkerGlobalScope;

let mirror: Uint16Array | null = null;
let mirrorW = 0;
let mirrorH = 0;
let filter: IncrementalFilter | null = null;

self.onmessage = async (ev: MessageEvent<CodecRequest>) => {
  const req = ev.data;
  const t0 = performance.now();
  try {
    if (req.kind === "encode") {
      let rows: Array<[number, number]> | null = null;
      if (req.full) {
        mirror = new Uint16Array(req.full);
        mirrorW = req.width;
        mirrorH = req.height;
        filter = new IncrementalFilter(mirrorW, mirrorH);
      } else if (!mirror || !filter || mirrorW !== req.width || mirrorH !== req.height) {
        throw new Error("codec mirror missing: a full map is needed");
      } else {
        rows = req.patch ? patchRows(req.patch, mirrorW, mirrorH) : [];
      }
      if (req.patch) applyTiles(mirror, mirrorW, mirrorH, req.patch);
      // Filtering reads the mirror synchronously, before the first await: a later patch
      // message cannot interleave with it.
      const t1 = performance.now();
      const filtered = filter.update(mirror, req.bitDepth, rows);
      const t2 = performance.now();
      const png = await pngFromFiltered(filtered, mirrorW, mirrorH, req.bitDepth);
      const timings = { filterMs: t2 - t1, deflateMs: performance.now() - t2 };
      const reply: CodecReply = {
        id: req.id,
        ok: true,
        kind: "encode",
        png: png.buffer as ArrayBuffer,
        pngOffset: png.byteOffset,
        pngLength: png.byteLength,
        ms: performance.now() - t0,
        ...timings,
      };
      self.postMessage(reply, [png.buffer as ArrayBuffer]);
    } else {
      const out = await decodeGrayPng(new Uint8Array(req.png));
      const reply: CodecReply = {
        id: req.id,
        ok: true,
        kind: "decode",
        buffer: out.data.buffer as ArrayBuffer,
        width: out.width,
        height: out.height,
        bitDepth: out.bitDepth,
        ms: performance.now() - t0,
      };
      self.postMessage(reply, [out.data.buffer as ArrayBuffer]);
    }
  } catch (e) {
    if (req.kind === "encode") {
      mirror = null;
      filter = null;
    }
    const reply: CodecReply = { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    self.postMessage(reply);
  }
};
