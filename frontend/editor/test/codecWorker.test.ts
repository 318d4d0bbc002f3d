/**
 * The codec worker's save path end to end, in process: CodecClient ⇄ codec.worker.ts through
 * a fake Worker that passes messages with structuredClone and the same transfer lists (so
 * transferred buffers really are detached on the sending side, as in a browser).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { encodeLabelPng } from "../src/codec/labelPng";
import { decodeGrayPng } from "../src/codec/png";
import type { CodecReply, CodecRequest } from "../src/io/codecProtocol";
import { CodecClient } from "../src/io/codecClient";
import { makeDoc } from "./fixtures";
import { sameArray } from "./helpers";

type Handler = ((ev: { data: unknown }) => void) | null;
const workerScope: { onmessage: Handler; postMessage: (msg: CodecReply, transfer?: Transferable[]) => void } = {
  onmessage: null,
  postMessage: () => {},
};

class FakeWorker {
  onmessage: Handler = null;
  onerror: Handler = null;
  constructor() {
    workerScope.postMessage = (msg, transfer = []) => {
      const data = structuredClone(msg, { transfer });
      setTimeout(() => this.onmessage?.({ data }), 0);
    };
  }
  postMessage(msg: CodecRequest, transfer: Transferable[] = []): void {
    const data = structuredClone(msg, { transfer });
    setTimeout(() => workerScope.onmessage?.({ data }), 0);
  }
  terminate(): void {}
}

beforeAll(async () => {
  vi.stubGlobal("self", workerScope);
  vi.stubGlobal("Worker", FakeWorker);
  await import("../src/io/codec.worker");
});
afterAll(() => {
  vi.unstubAllGlobals();
});

describe("codec worker save path", () => {
  it("sends only changed rows after the first save; every PNG decodes to the map", async () => {
    const doc = makeDoc(700, 530);
    const codec = new CodecClient();
    codec.attach(doc.map);
    const first = await codec.encode();
    // Origin unknown: a full copy, in slices of about a million pixels.
    expect(first.pixelsSent).toBe(700 * 530);
    expect(first.rowsEncoded).toBe(530);
    expect(first.mainThreadMaxMs).toBeLessThanOrEqual(first.mainThreadMs);

    doc.selectCategory(20);
    doc.beginStroke(false);
    doc.strokeTo({ x: 20, y: 300 }, { x: 680, y: 320 }, 9);
    doc.endStroke();
    const second = await codec.encode();
    // The stroke covers rows ~291..329 across 3 tiles: those rows, tile width each.
    expect(second.pixelsSent).toBeLessThan(45 * 700);
    expect(second.rowsEncoded).toBeLessThan(45);
    expect(sameArray((await decodeGrayPng(second.png)).data, doc.map.data)).toBe(true);
    expect(sameArray(second.png, encodeLabelPng(doc.map.data, 700, 530, 8))).toBe(true);

    // A fill, an undo (whole tiles rewritten) and ids above 255 (16-bit from then on).
    doc.selectCategory(10);
    doc.fillAt(0, 0);
    doc.undo();
    doc.selectCategory(30);
    doc.beginStroke(false);
    doc.strokeTo({ x: 600, y: 20 }, { x: 610, y: 500 }, 30);
    doc.endStroke();
    const third = await codec.encode();
    expect(sameArray((await decodeGrayPng(third.png)).data, doc.map.data)).toBe(true);

    for (let i = 0; i < 300; i++) doc.table.create(30);
    doc.selectSegment(doc.table.all().at(-1)!.id);
    doc.beginStroke(false);
    doc.strokeTo({ x: 5, y: 5 }, { x: 5, y: 5 }, 3);
    doc.endStroke();
    expect(doc.map.maxLabel()).toBeGreaterThan(255);
    const fourth = await codec.encode();
    expect(fourth.png[24]).toBe(16);
    expect(sameArray((await decodeGrayPng(fourth.png)).data, doc.map.data)).toBe(true);
    expect(await codec.encode().then((r) => r.rowsEncoded)).toBe(0);
    codec.terminate();
  });

  it("a map the worker decoded (keep) or an empty one is never copied from the page", async () => {
    const src = makeDoc(640, 300);
    src.selectCategory(20);
    src.beginStroke(false);
    src.strokeTo({ x: 10, y: 10 }, { x: 600, y: 280 }, 20);
    src.endStroke();
    const png = encodeLabelPng(src.map.data, 640, 300, 8);

    const codec = new CodecClient();
    const dec = await codec.decode(png, true);
    expect(dec.decodeId).not.toBeNull();
    const doc = makeDoc(640, 300);
    doc.map.data.set(dec.data);
    doc.map.recountAreas();
    codec.attach(doc.map, { decodeId: dec.decodeId! });
    const first = await codec.encode();
    expect(first.pixelsSent).toBe(0);
    expect(sameArray((await decodeGrayPng(first.png)).data, src.map.data)).toBe(true);
    // Edits after it travel as patches onto that mirror.
    doc.selectCategory(30);
    doc.fillAt(639, 0);
    const second = await codec.encode();
    expect(second.pixelsSent).toBeGreaterThan(0);
    expect(sameArray((await decodeGrayPng(second.png)).data, doc.map.data)).toBe(true);
    codec.terminate();

    const blank = makeDoc(300, 200);
    const c2 = new CodecClient();
    c2.attach(blank.map, "zeros");
    blank.selectCategory(10);
    blank.fillAt(0, 0);
    const e = await c2.encode();
    expect(e.pixelsSent).toBeLessThan(300 * 200 + 1);
    expect(sameArray((await decodeGrayPng(e.png)).data, blank.map.data)).toBe(true);
    c2.terminate();
  });

  it("edits made while a full copy is sent in slices end up in the PNG, with the table of that moment", async () => {
    const doc = makeDoc(1200, 1800); // 2.16 MP: three slices
    const codec = new CodecClient();
    codec.attach(doc.map);
    doc.selectCategory(10);
    doc.fillAt(0, 0);
    let snapshotArea = -1;
    const pending = codec.encode(() => (snapshotArea = doc.area(doc.activeSegment)));
    // The page keeps painting between slices (each slice yields to the event loop).
    await new Promise((r) => setTimeout(r, 0));
    doc.selectCategory(30);
    doc.beginStroke(false);
    doc.strokeTo({ x: 5, y: 5 }, { x: 1190, y: 1790 }, 15);
    doc.endStroke();
    const car = doc.activeSegment;
    const enc = await pending;
    expect(snapshotArea).toBeGreaterThan(0);
    const decoded = (await decodeGrayPng(enc.png)).data;
    expect(sameArray(decoded, doc.map.data)).toBe(true);
    expect(decoded.includes(car)).toBe(true);
    codec.terminate();
  });

  it("a lost mirror (the kept decode is gone) falls back to a full copy once", async () => {
    const doc = makeDoc(200, 100);
    const codec = new CodecClient();
    codec.attach(doc.map, { decodeId: 999 }); // the worker never decoded that
    const e = await codec.encode();
    expect(e.pixelsSent).toBe(200 * 100);
    expect(sameArray((await decodeGrayPng(e.png)).data, doc.map.data)).toBe(true);
    codec.terminate();
  });
});
