// Benchmark harness: mounts the built editor (/static/editor/editor.js) on synthetic data
// through an in-memory Backend, then measures painting and encoding in the page.
// Driven by bench/bench_editor.py; usable by hand too: open /bench/harness.html?w=3840&h=2160.
import { mount } from "/static/editor/editor.js";

const CATEGORIES = [
  ["sky", "#4682b4", false], ["road", "#804080", false], ["sidewalk", "#f423e8", false],
  ["building", "#464646", false], ["vegetation", "#6b8e23", false], ["terrain", "#98fb98", false],
  ["person", "#dc143c", true], ["rider", "#ff0000", true], ["car", "#00008e", true],
  ["truck", "#000046", true], ["bus", "#003c64", true], ["bicycle", "#770b20", true],
];

function taxonomy() {
  return {
    id: 1, number: 1, frozen: true,
    categories: CATEGORIES.map(([name, color, isthing], i) => ({
      id: i + 1, name, color, isthing, definition: `Synthetic ${name}.`, min_area: isthing ? 40 : 0,
      hotkey: "", examples: [], export_ids: {}, example_ids: [],
    })),
    conflict_rules: [{ id: 1, title: "Kerb", rule: "Kerb stones belong to the sidewalk.", category_ids: [2, 3], examples: [] }],
    edge_cases: [],
  };
}

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A street-scene-like panoptic map: 6 stuff bands with wavy borders + ~40 smooth blobs. */
function syntheticMap(w, h, things = 40) {
  const data = new Uint16Array(w * h);
  const r = rng(1234);
  const waves = [0.28, 0.45, 0.58, 0.7, 0.85].map((f) => ({ y: f * h, a: (0.02 + r() * 0.03) * h, p: r() * 6, k: 1 + r() * 3 }));
  // Stuff ids 1..6 (one segment each), things from 7 on.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let band = 0;
      for (const wv of waves) if (y > wv.y + wv.a * Math.sin((x / w) * Math.PI * 2 * wv.k + wv.p)) band++;
      data[y * w + x] = band + 1;
    }
  }
  const segments = [];
  for (let i = 0; i < 6; i++) segments.push({ id: i + 1, category_id: [1, 4, 5, 6, 2, 3][i], iscrowd: false, confirmed: true, source: "synthetic", attributes: {} });
  for (let k = 0; k < things; k++) {
    const id = 7 + k;
    const cx = r() * w, cy = (0.35 + r() * 0.6) * h;
    const rad = (0.01 + r() * 0.05) * w;
    const ph = [r() * 6, r() * 6];
    const x0 = Math.max(0, Math.floor(cx - rad * 1.4)), x1 = Math.min(w - 1, Math.ceil(cx + rad * 1.4));
    const y0 = Math.max(0, Math.floor(cy - rad * 1.4)), y1 = Math.min(h - 1, Math.ceil(cy + rad * 1.4));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx, dy = (y - cy) * 0.8;
        const th = Math.atan2(dy, dx);
        const rr = rad * (1 + 0.18 * Math.sin(3 * th + ph[0]) + 0.08 * Math.sin(5 * th + ph[1]));
        if (dx * dx + dy * dy <= rr * rr) data[y * w + x] = id;
      }
    }
    segments.push({ id, category_id: 7 + (k % 6), iscrowd: false, confirmed: k % 9 !== 0, source: "synthetic", attributes: {} });
  }
  return { data, segments };
}

async function syntheticImage(w, h) {
  // A cheap gradient photo stand-in, drawn small and scaled: decoding a real 8K JPEG is not what we measure.
  const c = new OffscreenCanvas(Math.ceil(w / 8), Math.ceil(h / 8));
  const g = c.getContext("2d");
  const grad = g.createLinearGradient(0, 0, c.width, c.height);
  grad.addColorStop(0, "#89a"); grad.addColorStop(0.5, "#554"); grad.addColorStop(1, "#332");
  g.fillStyle = grad; g.fillRect(0, 0, c.width, c.height);
  const blob = await c.convertToBlob({ type: "image/png" });
  return URL.createObjectURL(blob);
}

/** Adds review data: revisions whose index maps are PNGs made by the editor's own encoder. */
class ReviewBackend {
  constructor(base, revisions) { this.base = base; this.revisions = revisions; }
  getTask(id) { return this.base.getTask(id).then((t) => ({ ...t, status: "submitted", can_edit: false })); }
  getTaxonomy() { return this.base.getTaxonomy(); }
  async getLatestAnnotation() { return this.revisions.get(2).payload; }
  async getRevision(id) { return this.revisions.get(id).payload; }
  async getIndexMapPng(url) { return this.revisions.get(Number(url.split(":")[1])).png.slice(); }
  async saveRevision() { throw new Error("read-only"); }
  async submitRevision() { throw new Error("read-only"); }
}

class MemoryBackend {
  /** `revision`: {png, segments} served as the task's latest revision (opened like a real task). */
  constructor(w, h, imageUrl, revision = null) { this.w = w; this.h = h; this.imageUrl = imageUrl; this.saves = 0; this.revision = revision; }
  async getTask(id) {
    return { id, project: "bench", mode: "panoptic", allow_void: false, kind: "annotate", status: "in_progress",
      assignee: "bench", taxonomy: 1, latest_revision: null, can_edit: true,
      image: { id: 1, file_name: "synthetic.png", width: this.w, height: this.h, url: this.imageUrl } };
  }
  async getTaxonomy() { return taxonomy(); }
  async getLatestAnnotation() {
    if (!this.revision) return null;
    return { revision: 1, revision_id: 1, status: "draft", author: "bench", width: this.w, height: this.h, segments: this.revision.segments, index_map: "mem:1" };
  }
  async getRevision() { throw new Error("no revisions in the harness"); }
  async getIndexMapPng() {
    if (!this.revision) throw new Error("no revisions in the harness");
    return this.revision.png.slice();
  }
  async saveRevision(_taskId, req) { this.saves++; this.lastPngBytes = req.png.size; return { revision: this.saves, revisionId: this.saves }; }
  async submitRevision() {}
}

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

let editor = null;

async function setup(w, h) {
  const root = document.getElementById("tessera-editor");
  if (editor) editor.destroy();
  const url = await syntheticImage(w, h);
  const t0 = performance.now();
  const { data, segments } = syntheticMap(w, h);
  const genMs = performance.now() - t0;
  editor = await mount(root, { taskId: 1, mode: "edit", apiBase: "/api/", csrfToken: "", username: "bench", queueUrl: "/", revisionId: null, referenceRevisionId: null, reviewItemId: null },
    { backend: new MemoryBackend(w, h, url), autosave: false, recordPerf: false, redirectAfterSubmit: false });
  editor.doc.replaceContent(data, segments.map((s) => ({ id: s.id, categoryId: s.category_id, iscrowd: false, confirmed: s.confirmed, source: s.source, attributes: {}, polygons: [] })));
  while (window.tesseraEditor.pendingTiles > 0) await nextFrame();
  return { genMs, segments: segments.length };
}

/** Paints `strokes` long strokes with synthetic pointer events, `step` image px per frame. */
async function paint({ strokes = 6, framesPerStroke = 90, step = 120, brush = 64, samplesPerFrame = 4 } = {}) {
  const stage = editor.stage;
  editor.setTool("brush");
  editor.setBrushSize(brush);
  const { width: w, height: h } = editor.doc.map;
  const perf = editor.loop.perf;
  for (const k of ["samples", "inputMs", "drawMs", "tiles"]) perf[k].length = 0;
  perf.recording = true;
  const intervals = [];
  let lastT = performance.now();
  for (let s = 0; s < strokes; s++) {
    editor.doc.selectCategory(7 + (s % 6));
    editor.doc.startNewInstance();
    const rand = rng(99 + s);
    let x = w * (0.1 + 0.2 * rand()), y = h * (0.2 + 0.6 * rand()), dir = rand() * Math.PI * 2;
    const toClient = (ix, iy) => editor.imageToClient(ix, iy);
    const ev = (type, pts) => {
      const last = pts[pts.length - 1];
      const init = { bubbles: true, cancelable: true, pointerId: 1, pointerType: "mouse", isPrimary: true, button: type === "pointermove" ? -1 : 0, buttons: type === "pointerup" ? 0 : 1, clientX: last.x, clientY: last.y };
      const coalescedEvents = pts.map((p) => new PointerEvent(type, { ...init, clientX: p.x, clientY: p.y }));
      return new PointerEvent(type, { ...init, coalescedEvents });
    };
    stage.dispatchEvent(ev("pointerdown", [toClient(x, y)]));
    for (let f = 0; f < framesPerStroke; f++) {
      const pts = [];
      for (let k = 0; k < samplesPerFrame; k++) {
        dir += (rand() - 0.5) * 0.25;
        x += Math.cos(dir) * step / samplesPerFrame;
        y += Math.sin(dir) * step / samplesPerFrame;
        if (x < 0 || x > w) { dir = Math.PI - dir; x = Math.max(0, Math.min(w, x)); }
        if (y < 0 || y > h) { dir = -dir; y = Math.max(0, Math.min(h, y)); }
        pts.push(toClient(x, y));
      }
      stage.dispatchEvent(ev("pointermove", pts));
      await nextFrame();
      const t = performance.now();
      intervals.push(t - lastT);
      lastT = t;
    }
    stage.dispatchEvent(ev("pointerup", [toClient(x, y)]));
    await nextFrame();
  }
  while (window.tesseraEditor.pendingTiles > 0) await nextFrame();
  perf.recording = false;
  const xs = perf.samples.slice();
  return {
    frames: xs.length,
    inputP95: quantile(perf.inputMs, 0.95), drawP95: quantile(perf.drawMs, 0.95), tilesP95: quantile(perf.tiles, 0.95),
    worst: xs.map((v, i) => [v, perf.inputMs[i], perf.drawMs[i], perf.tiles[i]]).sort((a, b) => b[0] - a[0]).slice(0, 8),
    p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs),
    intervalP50: quantile(intervals, 0.5), intervalP95: quantile(intervals, 0.95),
    level: editor.viewport.scale,
  };
}

async function pipe(bytes, stream) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

/**
 * Checks a saved PNG outside the timed path: it must decode (browser zlib, via the editor's
 * codec) to exactly the current map; also reports what CompressionStream("deflate") makes
 * of the same filtered rows, for comparison with the editor's own deflate.
 */
async function verifyPng(png) {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idatLength = dv.getUint32(33);
  const raw = await pipe(png.subarray(41, 41 + idatLength), new DecompressionStream("deflate"));
  const streamBytes = png.byteLength - idatLength + (await pipe(raw, new CompressionStream("deflate"))).byteLength;
  const decoded = await editor.codec.decode(png.slice());
  const want = editor.doc.map.data;
  let same = decoded.data.length === want.length;
  for (let i = 0; same && i < want.length; i++) same = decoded.data[i] === want[i];
  return { decodesToMap: same, streamBytes };
}

/**
 * The realistic start: the synthetic map saved once, then the editor opened again on it as
 * the task's latest revision (a new editor, so a new worker: its decode becomes the mirror).
 */
async function setupFromRevision(w, h) {
  const png = (await editor.encodeMap()).png.slice();
  const segments = editor.doc.table.all().filter((s) => editor.doc.area(s.id) > 0)
    .map((s) => ({ id: s.id, category_id: s.categoryId, iscrowd: false, confirmed: s.confirmed, source: s.source, attributes: {} }));
  editor.destroy();
  const root = document.getElementById("tessera-editor");
  editor = await mount(root, { taskId: 1, mode: "edit", apiBase: "/api/", csrfToken: "", username: "bench", queueUrl: "/", revisionId: null, referenceRevisionId: null, reviewItemId: null },
    { backend: new MemoryBackend(w, h, await syntheticImage(w, h), { png, segments }), autosave: false, recordPerf: false, redirectAfterSubmit: false });
  while (window.tesseraEditor.pendingTiles > 0) await nextFrame();
  // Let the worker's idle JIT warm-up run, as it does while an annotator looks at the image.
  await new Promise((r) => setTimeout(r, 1500));
}

/** Only the first save, full map (after setup(): the map was replaced in the page). */
async function encodeFirst() {
  await new Promise((r) => setTimeout(r, 1500)); // the worker's warm-up, as above
  const first = await editor.encodeMap();
  const check = await verifyPng(first.png);
  return { workerMs: first.workerMs, mainThreadMs: first.mainThreadMs, mainThreadMaxMs: first.mainThreadMaxMs, bytes: first.png.byteLength, pixelsSent: first.pixelsSent, decodesToMap: check.decodesToMap };
}

/** First save, then `repeats` saves each after a short stroke. */
async function encode(repeats = 5) {
  const first = await editor.encodeMap();
  const firstCheck = await verifyPng(first.png);
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    await paint({ strokes: 1, framesPerStroke: 10 });
    runs.push(await editor.encodeMap());
  }
  const last = runs[runs.length - 1];
  const lastCheck = await verifyPng(last.png);
  const q = (k) => quantile(runs.map((r) => r[k]), 0.5);
  const runsMs = runs.map((r) => [r.workerMs, r.patchMs, r.filterMs, r.deflateMs, r.rowsEncoded]);
  return {
    runs: runsMs,
    first: { workerMs: first.workerMs, mainThreadMs: first.mainThreadMs, mainThreadMaxMs: first.mainThreadMaxMs, pixelsSent: first.pixelsSent, bytes: first.png.byteLength, streamBytes: firstCheck.streamBytes },
    workerMsP50: q("workerMs"), workerMsMin: Math.min(...runs.map((r) => r.workerMs)), workerMsMax: Math.max(...runs.map((r) => r.workerMs)),
    patchMsP50: q("patchMs"), filterMsP50: q("filterMs"), deflateMsP50: q("deflateMs"), rowsEncodedP50: q("rowsEncoded"),
    mainThreadMsP50: q("mainThreadMs"), pixelsSentP50: q("pixelsSent"),
    bytes: last.png.byteLength, streamBytes: lastCheck.streamBytes,
    decodesToMap: firstCheck.decodesToMap && lastCheck.decodesToMap,
  };
}

function setZoom(kind) {
  if (kind === "fit") editor.viewport.fit();
  else editor.viewport.set({ scale: 1, offsetX: 0, offsetY: 0 });
}

async function waitIdle() {
  while (window.tesseraEditor.pendingTiles > 0) await nextFrame();
  await nextFrame();
}

/** Review mode demo: submission = synthetic map + strokes, reference = the synthetic map. */
async function setupReview(w, h) {
  await setup(w, h);
  const records = editor.doc.table.all().map((s) => ({ id: s.id, category_id: s.categoryId, iscrowd: false, confirmed: true, source: "synthetic", attributes: {} }));
  const reference = (await editor.encodeMap()).png.slice();
  await paint({ strokes: 2, framesPerStroke: 20 });
  const submission = (await editor.encodeMap()).png.slice();
  const segs = editor.doc.table.all().filter((s) => editor.doc.area(s.id) > 0).map((s) => ({ id: s.id, category_id: s.categoryId, iscrowd: false, confirmed: s.confirmed, source: s.source, attributes: {} }));
  const base = new MemoryBackend(w, h, await syntheticImage(w, h));
  const payload = (id, number, author, segments) => ({ revision: number, revision_id: id, status: "submitted", author, width: w, height: h, segments, index_map: `mem:${id}` });
  const revisions = new Map([
    [1, { png: reference, payload: payload(1, 1, "qa_lead", records) }],
    [2, { png: submission, payload: payload(2, 2, "annotator1", segs) }],
  ]);
  editor.destroy();
  const root = document.getElementById("tessera-editor");
  editor = await mount(root, { taskId: 1, mode: "review", apiBase: "/api/", csrfToken: "", username: "rev", queueUrl: "/", revisionId: 2, referenceRevisionId: 1 },
    { backend: new ReviewBackend(base, revisions), autosave: false });
  while (window.tesseraEditor.pendingTiles > 0) await nextFrame();
}

window.tesseraBench = {
  setupReview, setup, setupFromRevision, paint, encode, encodeFirst, setZoom, waitIdle, get editor() { return editor; } };

const params = new URLSearchParams(location.search);
if (params.has("review")) {
  setupReview(Number(params.get("w") ?? 1920), Number(params.get("h") ?? 1080)).then(() => console.log("review ready"));
} else if (params.has("w")) {
  setup(Number(params.get("w")), Number(params.get("h") ?? 2160)).then((r) => console.log("harness ready", r));
}
