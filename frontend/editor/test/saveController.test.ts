import { describe, expect, it } from "vitest";
import { decodeGrayPng } from "../src/codec/png";
import { ApiError, type Backend, type SaveRequest, type SavedRevision } from "../src/io/api";
import { CodecClient } from "../src/io/codecClient";
import { SaveController } from "../src/io/saveController";
import { makeDoc } from "./fixtures";
import { sameArray } from "./helpers";

/** In-memory backend whose next answers can be scripted. */
class FakeBackend implements Backend {
  saves: SaveRequest[] = [];
  submits: number[] = [];
  latest = 0;
  nextError: ApiError | null = null;
  getTask(): never {
    throw new Error("unused");
  }
  getTaxonomy(): never {
    throw new Error("unused");
  }
  async getLatestAnnotation() {
    return null;
  }
  getRevision(): never {
    throw new Error("unused");
  }
  getIndexMapPng(): never {
    throw new Error("unused");
  }
  async saveRevision(_task: number, req: SaveRequest): Promise<SavedRevision> {
    if (this.nextError) {
      const e = this.nextError;
      this.nextError = null;
      throw e;
    }
    if (req.parent !== (this.latest || null)) throw new ApiError(409, { detail: "stale", code: "stale_parent", current_revision: this.latest });
    this.saves.push(req);
    this.latest += 1;
    return { revision: this.latest, revisionId: 100 + this.latest };
  }
  async submitRevision(_task: number, revision: number): Promise<void> {
    this.submits.push(revision);
  }
}

function setup() {
  const doc = makeDoc(300, 200);
  const codec = new CodecClient(); // no Worker in node: encodes on this thread, same code
  codec.attach(doc.map);
  const backend = new FakeBackend();
  const save = new SaveController(doc, backend, codec, 12, null, { autosaveDelayMs: 10 });
  const paint = (x: number) => {
    doc.selectCategory(20);
    doc.beginStroke(false);
    doc.strokeTo({ x, y: 50 }, { x: x + 40, y: 60 }, 6);
    doc.endStroke();
  };
  return { doc, backend, save, paint };
}

describe("saving", () => {
  it("posts the index map PNG and the segments present in it, with the parent revision", async () => {
    const { doc, backend, save, paint } = setup();
    paint(20);
    doc.startNewInstance();
    doc.beginStroke(false); // a segment that ends up with no pixels is not sent
    doc.endStroke();
    expect(save.isDirty).toBe(true);
    const s = await save.save("manual");
    expect(s.state).toBe("saved");
    expect(s.parent).toBe(1);
    expect(save.isDirty).toBe(false);
    const req = backend.saves[0]!;
    expect(req.parent).toBeNull();
    expect(req.segments.map((x) => x.id)).toEqual([1]);
    expect(req.segments[0]).toMatchObject({ id: 1, category_id: 20, iscrowd: false, confirmed: true, attributes: {} });
    const png = await decodeGrayPng(new Uint8Array(await req.png.arrayBuffer()));
    expect(png.bitDepth).toBe(8);
    expect(sameArray(png.data, doc.map.data)).toBe(true);
    paint(150);
    await save.save("manual");
    expect(backend.saves[1]!.parent).toBe(1);
  });

  it("autosaves only when something changed", async () => {
    const { backend, save, paint } = setup();
    save.noteChange();
    await new Promise((r) => setTimeout(r, 40));
    expect(backend.saves).toHaveLength(0);
    paint(20);
    save.noteChange();
    await new Promise((r) => setTimeout(r, 80));
    expect(backend.saves).toHaveLength(1);
  });

  it("a 409 keeps local work and 'keep mine' re-saves on top of the current revision", async () => {
    const { doc, backend, save, paint } = setup();
    backend.latest = 3; // someone else saved revisions 1..3
    paint(20);
    const before = doc.map.data.slice();
    const s = await save.save("manual");
    expect(s.state).toBe("conflict");
    expect(s.currentRevision).toBe(3);
    expect(save.isDirty).toBe(true);
    expect(sameArray(doc.map.data, before)).toBe(true);
    const s2 = await save.keepMineOnTop();
    expect(s2.state).toBe("saved");
    expect(backend.saves[0]!.parent).toBe(3);
    expect(s2.parent).toBe(4);
  });

  it("a 400 on submit exposes the per-segment errors", async () => {
    const { backend, save, paint } = setup();
    paint(20);
    backend.nextError = new ApiError(400, {
      detail: "Submission checks failed",
      code: "invalid",
      errors: [{ code: "min_area", message: "Segment 1 is below 40 px", segment_id: 1 }],
    });
    const s = await save.save("submit");
    expect(s.state).toBe("invalid");
    expect(s.errors).toEqual([{ code: "min_area", message: "Segment 1 is below 40 px", segment_id: 1 }]);
    expect(save.isDirty).toBe(true);
  });

  it("submit of unchanged, saved work calls the submit endpoint with that revision", async () => {
    const { backend, save, paint } = setup();
    paint(20);
    await save.save("manual");
    const s = await save.save("submit");
    expect(s.state).toBe("submitted");
    expect(backend.submits).toEqual([1]);
    expect(backend.saves).toHaveLength(1);
  });
});
