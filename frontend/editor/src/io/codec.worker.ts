/// <reference lib="webworker" />
/**
 * PNG encode/decode off the main thread. Buffers arrive and leave as transferables (moved,
 * never structured-clone copied); the map itself is mirrored here and patched by tiles.
 * The encoder keeps every row's deflate tokens, so a save re-encodes only the rows that a
 * patch really changed (see codec/labelPng.ts).
 */
import { LabelPngEncoder } from "../codec/labelPng";
import { decodeGrayPng } from "../codec/png";
import type { CodecReply, CodecRequest } from "./codecProtocol";
import { applyTilesTracked } from "./tilePatch";

declare const self: DedicatedWorkerGlobalScope;

let mirror: Uint16Array | null = null;
let encoder: LabelPngEncoder | null = null;

self.onmessage = async (ev: MessageEvent<CodecRequest>) => {
  const req = ev.data;
  const t0 = performance.now();
  try {
    if (req.kind === "encode") {
      if (req.full) {
        mirror = new Uint16Array(req.full);
        encoder = new LabelPngEncoder(req.width, req.height);
      } else if (!mirror || !encoder || encoder.width !== req.width || encoder.height !== req.height) {
        throw new Error("codec mirror missing: a full map is needed");
      }
      const enc = encoder;
      if (req.patch) applyTilesTracked(mirror, req.width, req.height, req.patch, (y) => enc.rowChanged(y));
      const patchMs = performance.now() - t0;
      // Synchronous from patch to PNG: a later patch message cannot interleave with it.
      const timings = { rowsMs: 0, deflateMs: 0, rowsEncoded: 0 };
      const png = enc.encode(mirror, req.bitDepth, timings);
      const reply: CodecReply = {
        id: req.id,
        ok: true,
        kind: "encode",
        png: png.buffer as ArrayBuffer,
        pngOffset: png.byteOffset,
        pngLength: png.byteLength,
        ms: performance.now() - t0,
        patchMs,
        filterMs: timings.rowsMs,
        deflateMs: timings.deflateMs,
        rowsEncoded: timings.rowsEncoded,
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
      encoder = null;
    }
    const reply: CodecReply = { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    self.postMessage(reply);
  }
};
