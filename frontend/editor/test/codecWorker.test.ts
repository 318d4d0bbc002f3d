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
    expect(first.pixelsSent).toBe(700 * 530);
    expect(first.rowsEncoded).toBe(530);

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
});
