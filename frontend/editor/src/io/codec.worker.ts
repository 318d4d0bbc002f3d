/// <reference lib="webworker" />
/**
 * PNG encode/decode off the main thread. Buffers arrive and leave as transferables (moved,
 * never structured-clone copied); the map itself is mirrored here and patched by tiles.
 * The encoder keeps every row's deflate tokens, so a save re-encodes only the rows that a
 * patch really changed (see codec/labelPng.ts).
 */
import { LabelPngEncoder } from "../codec/labelPng";
import { decodeGrayPng } from "../codec/png";
import { WARM_UP_STEPS, warmUpStep } from "../codec/warmup";
import type { CodecReply, CodecRequest, MirrorBase } from "./codecProtocol";
import { applyTilesTracked } from "./tilePatch";

declare const self: DedicatedWorkerGlobalScope;

let mirror: Uint16Array | null = null;
let encoder: LabelPngEncoder | null = null;
/** The last map decoded with keep = true: a mirror base the page does not have to send. */
let kept: { decodeId: number; data: Uint16Array } | null = null;
/** A full copy arriving in slices of rows ("rows" messages). */
let staging: { width: number; height: number; data: Uint16Array; rows: number } | null = null;

// Warm the encoder's JIT while idle: one short step per macrotask, so requests interleave.
let warmStep = 0;
function warmUp(): void {
  if (warmStep >= WARM_UP_STEPS) return;
  warmUpStep(warmStep++);
  setTimeout(warmUp, 0);
}
setTimeout(warmUp, 0);

function startMirror(base: MirrorBase, width: number, height: number): Uint16Array {
  const n = width * height;
  if (base.kind === "zeros") return new Uint16Array(n);
  if (base.kind === "decoded") {
    if (!kept || kept.decodeId !== base.decodeId || kept.data.length !== n) throw new Error("codec mirror missing: the decoded map is gone");
    const data = kept.data;
    kept = null; // from now on it is the mirror, patched in place
    return data;
  }
  const s = staging;
  staging = null;
  if (!s || s.width !== width || s.height !== height || s.rows !== height) throw new Error("codec mirror missing: the full copy is incomplete");
  return s.data;
}

self.onmessage = async (ev: MessageEvent<CodecRequest>) => {
  const req = ev.data;
  const t0 = performance.now();
  try {
    if (req.kind === "rows") {
      if (req.y0 === 0 || !staging || staging.width !== req.width || staging.height !== req.height) {
        staging = { width: req.width, height: req.height, data: new Uint16Array(req.width * req.height), rows: 0 };
      }
      const rows = new Uint16Array(req.pixels);
      staging.data.set(rows, req.y0 * req.width);
      staging.rows += rows.length / req.width;
      return;
    }
    if (req.kind === "encode") {
      if (req.base) {
        mirror = startMirror(req.base, req.width, req.height);
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
      // The copy is made here, off the page's thread: the page gets the original.
      if (req.keep) kept = { decodeId: req.id, data: out.data.slice() };
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
    if (req.kind === "rows") {
      staging = null;
      return;
    }
    const reply: CodecReply = { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    self.postMessage(reply);
  }
};
