import { describe, expect, it } from "vitest";
import { decodeGrayPng } from "../src/codec/png";
import { ApiError, type Backend, csrfFromCookie, HttpBackend, type SaveRequest, type SavedRevision } from "../src/io/api";
import { CodecClient } from "../src/io/codecClient";
import { isSignedOut, SaveController, type SaveOptions, type UnsavedWork } from "../src/io/saveController";
import { makeDoc } from "./fixtures";
import { sameArray } from "./helpers";

/** In-memory backend whose next answers can be scripted. */
class FakeBackend implements Backend {
  saves: SaveRequest[] = [];
  submits: number[] = [];
  latest = 0;
  nextError: ApiError | null = null;
  /** Every save fails with this (until cleared). */
  alwaysError: ApiError | Error | null = null;
  attempts = 0;
  getTask(): never {
    throw new Error("unused");
  }
  getTaxonomy(): never {
    throw new Error("unused");
  }
  async getLatestAnnotation() {
    return this.latest ? ({ revision: this.latest } as never) : null;
  }
  getRevision(): never {
    throw new Error("unused");
  }
  getIndexMapPng(): never {
    throw new Error("unused");
  }
  async saveRevision(_task: number, req: SaveRequest): Promise<SavedRevision> {
    this.attempts++;
    if (this.alwaysError) throw this.alwaysError;
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

class MemoryUnsaved {
  kept: UnsavedWork[] = [];
  drops = 0;
  async keep(w: UnsavedWork): Promise<void> {
    this.kept.push(w);
  }
  async drop(): Promise<void> {
    this.drops++;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(opts: SaveOptions = {}) {
  const doc = makeDoc(300, 200);
  const codec = new CodecClient(); // no Worker in node: encodes on this thread, same code
  codec.attach(doc.map);
  const backend = new FakeBackend();
  const unsaved = new MemoryUnsaved();
  const save = new SaveController(doc, backend, codec, 12, null, { autosaveDelayMs: 10, unsaved, ...opts });
  const paint = (x: number) => {
    doc.selectCategory(20);
    doc.beginStroke(false);
    doc.strokeTo({ x, y: 50 }, { x: x + 40, y: 60 }, 6);
    doc.endStroke();
  };
  return { doc, backend, save, paint, unsaved };
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

  it("autosave waits for a pause in editing (debounce), but not longer than the max wait", async () => {
    const { backend, save, paint } = setup({ autosaveDelayMs: 60, autosaveMaxWaitMs: 200 });
    // Edits every 20 ms keep postponing a 60 ms debounce…
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) {
      paint(10 + i);
      save.noteChange();
      await sleep(20);
    }
    expect(backend.saves).toHaveLength(0); // 120 ms of edits, never a 60 ms pause
    // …until the max wait forces a save although editing goes on.
    while (Date.now() - t0 < 400 && backend.saves.length === 0) {
      paint(60);
      save.noteChange();
      await sleep(20);
    }
    expect(backend.saves).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    // Several edits then a pause: one save for all of them.
    await sleep(100);
    const n = backend.saves.length;
    paint(100);
    save.noteChange();
    paint(120);
    save.noteChange();
    await sleep(150);
    expect(backend.saves.length).toBe(n + 1);
  });

  it("failing saves back off instead of bursting, even while the annotator keeps painting", async () => {
    const { backend, save, paint, unsaved } = setup({ autosaveDelayMs: 5, autosaveMaxWaitMs: 20, retryBaseMs: 40, retryMaxMs: 1000 });
    backend.alwaysError = new ApiError(500, { detail: "server error" });
    const states: string[] = [];
    save.onStatus((st) => states.push(st.state));
    const t0 = Date.now();
    while (Date.now() - t0 < 700) {
      paint(20 + ((Date.now() - t0) % 200));
      save.noteChange(); // what the editor does after every frame with changes
      await sleep(5);
    }
    // 40, 80, 160, 320 ms between tries: at most 5 in 700 ms (it was ~40 before the fix).
    expect(backend.attempts).toBeGreaterThanOrEqual(2);
    expect(backend.attempts).toBeLessThanOrEqual(5);
    expect(save.retryDelay(1)).toBe(40);
    expect(save.retryDelay(3)).toBe(160);
    expect(save.retryDelay(20)).toBe(1000);
    expect(save.status.state).toBe("error");
    // Each failed save left the work in the local store.
    expect(unsaved.kept.length).toBe(backend.attempts);
    expect(save.status.keptLocally).toBe(true);
    // An explicit Save tries at once; success clears the backoff and the failed-save copy.
    backend.alwaysError = null;
    const s = await save.save("manual");
    expect(s.state).toBe("saved");
    await sleep(0);
    expect(unsaved.drops).toBe(1);
  });

  it("a signed-out session (401, or a CSRF 403) says so and keeps the work locally", async () => {
    const { backend, save, paint, unsaved } = setup({ retryBaseMs: 10_000 });
    paint(20);
    backend.alwaysError = new ApiError(403, { detail: "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect." });
    const s = await save.save("manual");
    expect(s.state).toBe("signed_out");
    expect(s.message).toContain("You were signed out — sign in in another tab, then press Save");
    expect(unsaved.kept).toHaveLength(1);
    expect(unsaved.kept[0]!.segments.map((r) => r.id)).toEqual([1]);
    expect(save.isDirty).toBe(true);
    expect(isSignedOut(new ApiError(401, { detail: "Authentication credentials were not provided." }))).toBe(true);
    expect(isSignedOut(new ApiError(403, { detail: "Task 3 is assigned to someone else." }))).toBe(false);
    save.dispose();
  });

  it("a 403 that is not about the session, and a 409 task_not_editable, stop autosave with the task's status", async () => {
    const { backend, save, paint, unsaved } = setup();
    paint(20);
    backend.alwaysError = new ApiError(409, { detail: "Task 12 is submitted; it cannot be edited now.", code: "task_not_editable", task_status: "submitted" });
    const s = await save.save("manual");
    expect(s.state).toBe("not_editable");
    expect(s.taskStatus).toBe("submitted");
    expect(s.message).toBe("This task is now submitted; it cannot be saved here.");
    expect(s.keptLocally).toBe(true);
    expect(unsaved.kept).toHaveLength(1);
    expect(save.enabled).toBe(false);
    // No automatic retry, and "keep mine" never ran: nothing throws, nothing is sent.
    paint(80);
    save.noteChange();
    await sleep(40);
    expect(backend.attempts).toBe(1);

    const other = setup();
    other.paint(20);
    other.backend.alwaysError = new ApiError(403, { detail: "Task 12 is assigned to someone else; only its assignee saves work on it.", code: "forbidden" });
    expect((await other.save.save("manual")).state).toBe("not_editable");
  });

  it("keep mine on top asks the server for the latest revision when the 409 did not say", async () => {
    const { backend, save, paint } = setup();
    backend.latest = 2;
    paint(20);
    backend.nextError = new ApiError(409, { detail: "stale", code: "stale_parent" });
    expect((await save.save("manual")).state).toBe("conflict");
    expect(save.status.currentRevision).toBeNull();
    const s = await save.keepMineOnTop();
    expect(s.state).toBe("saved");
    expect(backend.saves[0]!.parent).toBe(2);
  });

  it("a refused submit saves the work as a draft right away and keeps the submit problems", async () => {
    const { backend, save, paint } = setup();
    paint(20);
    backend.nextError = new ApiError(400, {
      detail: "The annotation cannot be submitted yet: coverage",
      errors: [{ code: "coverage", message: "12 pixels are unlabeled", segment_id: null }],
    });
    const s = await save.save("submit");
    expect(s.state).toBe("invalid");
    expect(s.errorsFromSubmit).toBe(true);
    expect(backend.saves).toHaveLength(0); // submit with save is one transaction: nothing written
    await sleep(30);
    expect(backend.saves).toHaveLength(1); // the draft
    expect(backend.saves[0]!.submit).toBe(false);
    expect(save.status.state).toBe("saved");
    expect(save.isDirty).toBe(false);
    expect(save.status.errors).toHaveLength(1); // still shown: the draft does not fix them
    // A successful submit clears them.
    const done = await save.save("submit");
    expect(done.state).toBe("submitted");
    expect(done.errors).toEqual([]);
  });

  it("local drafts (a reviewer's fix) go to the local store only; submit goes to the server", async () => {
    const { backend, save, paint, unsaved } = setup({ drafts: "local" });
    paint(20);
    const s = await save.save("manual");
    expect(s.state).toBe("saved");
    expect(s.message).toBe("Kept in this browser");
    expect(backend.saves).toHaveLength(0);
    expect(unsaved.kept).toHaveLength(1);
    const sub = await save.save("submit");
    expect(sub.state).toBe("submitted");
    expect(backend.saves).toHaveLength(1);
    expect(backend.saves[0]!.submit).toBe(true);
  });
});

describe("requests", () => {
  it("read the CSRF token from the cookie at request time (it rotates when you sign in again)", async () => {
    let cookie = "sessionid=a; csrftoken=first";
    const sent: string[] = [];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      sent.push(new Headers(init.headers).get("X-CSRFToken") ?? "");
      return new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
    }) as unknown as typeof fetch;
    const backend = new HttpBackend({ apiBase: "/api/", csrfToken: csrfFromCookie("from-page", () => cookie), fetchImpl });
    await backend.submitRevision(1, 1);
    cookie = "csrftoken=second; sessionid=b";
    await backend.submitRevision(1, 1);
    cookie = "";
    await backend.submitRevision(1, 1);
    expect(sent).toEqual(["first", "second", "from-page"]);
  });
});
