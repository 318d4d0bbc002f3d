/**
 * Wires the editor together: loads task, taxonomy and revision through a Backend, builds
 * the document, the tiled layers, tools, panels and the save controller, and exposes the
 * read-only test hook. Each part lives in its own module; this file only connects them.
 */
import type { EditorConfig } from "./config";
import { type Backend, HttpBackend, type RevisionPayload } from "./io/api";
import { CodecClient } from "./io/codecClient";
import { loadBackup, saveBackup } from "./io/localBackup";
import { reconcileTable, recordsFromApi } from "./io/revisionIo";
import { SaveController, type SaveStatus } from "./io/saveController";
import { buildKeyBindings, type EditorActions, isTypingTarget, type KeyBinding } from "./input/keymap";
import { PointerInput } from "./input/pointerInput";
import { AnnotationDocument } from "./model/document";
import { LabelMap, MAX_LABEL, TILE_SHIFT } from "./model/labelMap";
import { SegmentTable } from "./model/segments";
import type { TaskInfo, Taxonomy } from "./model/taxonomy";
import { buildColorTable } from "./render/colorTable";
import { RenderLoop } from "./render/renderLoop";
import { TiledLayer } from "./render/tiledLayer";
import { LabelTileSource } from "./render/tileSources";
import { type ImageHit, type ReviewContext, reviewExtensions } from "./review/extension";
import { type ReferenceRevision, ReviewView } from "./review/reviewView";
import { FillTool } from "./tools/fillTool";
import { PolygonTool } from "./tools/polygonTool";
import { createBrush, createEraser } from "./tools/strokeTool";
import type { ImagePoint, Tool, ToolContext, ToolId, ToolSettings } from "./tools/tool";
import { buildConflictDialog } from "./ui/conflictDialog";
import { h } from "./ui/dom";
import { buildHelpOverlay } from "./ui/helpOverlay";
import { SegmentsPanel } from "./ui/segmentsPanel";
import { TaxonomyPanel } from "./ui/taxonomyPanel";
import { Toasts } from "./ui/toast";
import { Toolbar } from "./ui/toolbar";
import { Viewport } from "./view/viewport";

export interface MountOptions {
  /** Defaults to the HTTP API at config.apiBase. */
  backend?: Backend;
  historyCapBytes?: number;
  autosaveDelayMs?: number;
  /** Record per-frame work samples (benchmarks). */
  recordPerf?: boolean;
  /** Disable autosave (benchmarks). */
  autosave?: boolean;
  /** Where to go after a successful submit; false stays on the page. */
  redirectAfterSubmit?: boolean;
}

/** Above this many pixels the overlay is drawn at reduced resolution when zoomed out. */
const REDUCED_RES_PIXELS = 16_000_000;

async function loadRevisionMap(backend: Backend, codec: CodecClient, rev: RevisionPayload, w: number, h: number): Promise<Uint16Array> {
  const png = await backend.getIndexMapPng(rev.index_map);
  const decoded = await codec.decode(png);
  if (decoded.width !== w || decoded.height !== h) {
    throw new Error(`revision ${rev.revision} map is ${decoded.width}×${decoded.height}, image is ${w}×${h}`);
  }
  return decoded.data;
}

export async function mountEditor(root: HTMLElement, config: EditorConfig, opts: MountOptions = {}): Promise<TesseraEditor> {
  root.classList.add("tsr-root");
  root.textContent = "Loading annotation…";
  const backend = opts.backend ?? new HttpBackend({ apiBase: config.apiBase, csrfToken: config.csrfToken });
  const codec = new CodecClient();
  try {
    const task = await backend.getTask(config.taskId);
    const [taxonomy, revision] = await Promise.all([
      backend.getTaxonomy(task.taxonomy),
      config.revisionId !== null ? backend.getRevision(config.revisionId) : backend.getLatestAnnotation(config.taskId),
    ]);
    const { width, height } = task.image;
    const data = revision ? await loadRevisionMap(backend, codec, revision, width, height) : undefined;
    let reference: ReferenceRevision | null = null;
    if (config.mode === "review" && config.referenceRevisionId !== null) {
      const ref = await backend.getRevision(config.referenceRevisionId);
      const table = new SegmentTable();
      table.restore(recordsFromApi(ref.segments));
      reference = {
        revision: ref.revision,
        revisionId: ref.revision_id,
        author: ref.author,
        map: new LabelMap(width, height, await loadRevisionMap(backend, codec, ref, width, height)),
        table,
      };
    }
    root.textContent = "";
    return new TesseraEditor(root, config, opts, backend, codec, task, taxonomy, revision, data, reference);
  } catch (e) {
    codec.terminate();
    root.textContent = "";
    root.append(h("div", { className: "tsr-fatal", role: "alert" }, `The editor could not load: ${e instanceof Error ? e.message : String(e)}`));
    throw e;
  }
}

export class TesseraEditor {
  readonly doc: AnnotationDocument;
  readonly viewport: Viewport;
  readonly loop: RenderLoop;
  readonly readOnly: boolean;
  readonly save: SaveController;
  readonly settings: ToolSettings = { brushSize: 24, cut: false };
  readonly stage: HTMLElement;
  private readonly world: HTMLElement;
  private readonly preview: HTMLCanvasElement;
  private readonly previewCtx: CanvasRenderingContext2D;
  private readonly markerLayer: HTMLElement;
  private readonly mainLayer: TiledLayer;
  private readonly mainSource: LabelTileSource;
  private spareLut: Uint32Array = new Uint32Array(MAX_LABEL + 1);
  private readonly tools: Map<ToolId, Tool>;
  private tool: Tool | null;
  private hover: ImagePoint | null = null;
  private spaceHeld = false;
  private opacity = 0.55;
  private readonly toolbar: Toolbar;
  private readonly segmentsPanel: SegmentsPanel;
  private readonly taxonomyPanel: TaxonomyPanel;
  private readonly review: ReviewView | null;
  private readonly toasts = new Toasts();
  private readonly help: HTMLElement;
  private dialog: HTMLElement | null = null;
  private readonly bindings: KeyBinding[];
  private readonly input: PointerInput;
  private areaTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly viewListeners: Array<() => void> = [];
  private readonly cleanups: Array<() => void> = [];

  constructor(
    readonly root: HTMLElement,
    readonly config: EditorConfig,
    private readonly opts: MountOptions,
    private readonly backend: Backend,
    private readonly codec: CodecClient,
    readonly task: TaskInfo,
    taxonomy: Taxonomy,
    revision: RevisionPayload | null,
    data: Uint16Array | undefined,
    reference: ReferenceRevision | null,
  ) {
    const { width, height } = task.image;
    this.readOnly = config.mode === "review" || !task.can_edit;
    this.doc = new AnnotationDocument(width, height, { mode: task.mode, taxonomy, historyCapBytes: opts.historyCapBytes }, data);
    if (revision) this.doc.table.restore(recordsFromApi(revision.segments));
    const orphans = reconcileTable(this.doc);
    for (const id of orphans) this.doc.table.create(taxonomy.categories[0]?.id ?? 0, { id, confirmed: false, source: "unknown" });
    this.doc.history.clear();
    codec.attach(this.doc.map);

    // Layers and DOM.
    this.viewport = new Viewport(width, height);
    this.mainSource = new LabelTileSource(this.doc.map, buildColorTable(this.doc.table, taxonomy));
    this.mainLayer = new TiledLayer(this.mainSource, "tsr-layer-main");
    this.loop = new RenderLoop(() => this.layers());
    this.loop.perf.recording = opts.recordPerf ?? false;
    this.loop.priority = (t) => this.tileVisible(t);
    this.doc.map.addDirtyListener((_tx0, _ty0, _tx1, _ty1, x0, y0, x1, y1) => {
      this.mainLayer.markRect(x0, y0, x1, y1);
      this.loop.request();
    });
    const img = h("img", { className: "tsr-image", src: task.image.url, width, height, alt: task.image.file_name, draggable: "false" });
    this.world = h("div", { className: "tsr-world" }, img, this.mainLayer.element);
    this.world.style.width = `${width}px`;
    this.world.style.height = `${height}px`;
    this.preview = h("canvas", { className: "tsr-preview" });
    const pctx = this.preview.getContext("2d");
    if (!pctx) throw new Error("2D canvas unavailable");
    this.previewCtx = pctx;
    this.markerLayer = h("div", { className: "tsr-markers" });
    this.stage = h("div", { className: "tsr-stage", tabindex: 0, "data-testid": "stage" }, this.world, this.preview, this.markerLayer);

    this.review = config.mode === "review"
      ? new ReviewView(this.doc, this.mainLayer, reference, revision ? `Submission: revision ${revision.revision} by ${revision.author}` : "No submission yet", () => this.loop.request())
      : null;
    if (this.review) for (const l of this.review.layers) this.world.append(l.element);

    const ctx: ToolContext = {
      doc: this.doc,
      viewport: this.viewport,
      settings: this.settings,
      notify: (m, k) => this.toasts.show(m, k),
      requestPreview: () => this.loop.onNextFrame(this.drawPreview),
    };
    this.tools = new Map<ToolId, Tool>([
      ["brush", createBrush(ctx)],
      ["eraser", createEraser(ctx)],
      ["polygon", new PolygonTool(ctx)],
      ["fill", new FillTool(ctx)],
    ]);
    this.tool = this.readOnly ? null : this.tools.get("brush")!;

    // Panels.
    const actions = this.actions();
    this.toolbar = new Toolbar(
      {
        setTool: (id) => this.setTool(id),
        setBrushSize: (px) => this.setBrushSize(px),
        setOrder: (o) => {
          this.doc.order = o;
          this.refreshToolbar();
        },
        setCut: (on) => {
          this.settings.cut = on;
          this.refreshToolbar();
          this.loop.onNextFrame(this.drawPreview);
        },
        setOpacity: (v) => this.setOpacity(v),
        setOutline: (on) => this.setOutline(on),
        undo: actions.undo,
        redo: actions.redo,
        save: actions.save,
        submit: actions.submit,
        help: actions.toggleHelp,
      },
      this.readOnly,
    );
    this.segmentsPanel = new SegmentsPanel(this.doc, { readOnly: this.readOnly, notify: (m, k) => this.toasts.show(m, k) });
    this.taxonomyPanel = new TaxonomyPanel(this.doc, this.readOnly);
    this.bindings = buildKeyBindings(actions, taxonomy.categories);
    this.help = buildHelpOverlay(this.bindings, this.readOnly, () => (this.help.hidden = true));
    const side = h("aside", { className: "tsr-side" }, this.review?.panel ?? null, this.taxonomyPanel.element, this.segmentsPanel.element);
    root.append(
      h("div", { className: "tsr-editor", "data-mode": config.mode }, this.toolbar.element, h("div", { className: "tsr-main" }, this.stage, side)),
      this.help,
      this.toasts.element,
    );

    // Save.
    this.save = new SaveController(this.doc, backend, codec, config.taskId, revision?.revision ?? null, {
      autosaveDelayMs: opts.autosaveDelayMs,
    });
    this.save.enabled = !this.readOnly && (opts.autosave ?? true);
    this.save.onStatus((s) => this.onSaveStatus(s));

    // Events.
    this.input = new PointerInput(this.stage, {
      viewport: this.viewport,
      activeTool: () => this.tool,
      measure: (fn) => this.loop.measureInput(fn),
      hover: (p) => {
        this.hover = p;
        if (this.tool) this.loop.onNextFrame(this.drawPreview);
      },
      click: (p, ev) => this.imageClick(p, ev),
      spaceHeld: () => this.spaceHeld,
    });
    this.doc.table.onChange(() => this.onTableChange());
    this.doc.onSelectionChange(() => this.loop.onNextFrame(this.refreshPanels));
    this.doc.map.addDirtyListener(() => this.onPixelsChanged());
    this.viewport.onChange(() => this.onViewChange());
    this.listen(window, "keydown", (e) => this.keyDown(e as KeyboardEvent));
    this.listen(window, "keyup", (e) => {
      if ((e as KeyboardEvent).key === " ") this.spaceHeld = false;
    });
    this.listen(window, "blur", () => (this.spaceHeld = false));
    this.listen(window, "resize", () => this.fitRootHeight());
    this.listen(window, "beforeunload", (e) => {
      if (!this.readOnly && this.save.isDirty) e.preventDefault();
    });
    const ro = new ResizeObserver(() => this.onStageResize());
    ro.observe(this.stage);
    this.cleanups.push(() => ro.disconnect());

    this.fitRootHeight();
    this.setOpacity(this.opacity);
    this.onStageResize();
    this.viewport.fit();
    this.refreshPanels();
    if (this.review) this.mountReviewExtensions();
    if (!this.readOnly) void this.offerBackup();
  }

  // ---- structure ------------------------------------------------------------------

  private layers(): TiledLayer[] {
    return this.review ? [this.mainLayer, ...this.review.layers] : [this.mainLayer];
  }

  private listen(target: EventTarget, type: string, fn: (e: Event) => void): void {
    target.addEventListener(type, fn);
    this.cleanups.push(() => target.removeEventListener(type, fn));
  }

  private fitRootHeight(): void {
    // The editor fills the viewport below whatever header the page has.
    const top = this.root.getBoundingClientRect().top + window.scrollY;
    this.root.style.height = `${Math.max(240, window.innerHeight - top)}px`;
  }

  private onStageResize(): void {
    const r = this.stage.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.preview.width = Math.round(r.width * dpr);
    this.preview.height = Math.round(r.height * dpr);
    this.preview.style.width = `${r.width}px`;
    this.preview.style.height = `${r.height}px`;
    this.previewCtx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.input.refreshRect();
    const first = this.viewport.stageWidth <= 1;
    this.viewport.setStageSize(r.width, r.height);
    if (first) this.viewport.fit();
  }

  private onViewChange(): void {
    this.world.style.transform = this.viewport.cssTransform();
    this.world.classList.toggle("tsr-pixelated", this.viewport.scale >= 2);
    const big = this.doc.map.width * this.doc.map.height > REDUCED_RES_PIXELS;
    const s = this.viewport.scale;
    const level = !big ? 1 : s <= 0.25 ? 4 : s <= 0.5 ? 2 : 1;
    for (const l of this.layers()) l.setLevel(level);
    this.loop.request();
    this.loop.onNextFrame(this.drawPreview);
    for (const l of this.viewListeners) l();
  }

  private tileVisible(tile: number): boolean {
    const r = this.viewport.visibleRect();
    const tx = tile % this.mainLayer.tilesX;
    const ty = (tile / this.mainLayer.tilesX) | 0;
    return tx >= r.x0 >> TILE_SHIFT && tx <= r.x1 >> TILE_SHIFT && ty >= r.y0 >> TILE_SHIFT && ty <= r.y1 >> TILE_SHIFT;
  }

  // ---- state changes --------------------------------------------------------------

  private onTableChange(): void {
    // Two tables used in turn: a new segment at stroke start must not cost 256 KiB of garbage.
    const old = this.mainSource.lut;
    const next = buildColorTable(this.doc.table, this.doc.taxonomy, this.spareLut);
    this.mainSource.lut = next;
    this.spareLut = old;
    // Only ids that own pixels need a redraw; a brand-new (empty) segment changes nothing on screen.
    const area = this.doc.map.area;
    let redraw = false;
    for (let id = 1; id < next.length && !redraw; id++) if (old[id] !== next[id] && area[id]! > 0) redraw = true;
    if (redraw) {
      this.mainLayer.markAll();
      this.loop.request();
    }
    this.save.noteChange();
    this.loop.onNextFrame(this.refreshPanels);
  }

  /** Called for every written span: only flags, the real work happens once per frame. */
  private onPixelsChanged(): void {
    this.loop.onNextFrame(this.afterPixelsChanged);
  }

  private readonly afterPixelsChanged = (): void => {
    this.save.noteChange();
    if (this.areaTimer) return;
    // Area numbers while painting: a few refreshes per second are plenty.
    this.areaTimer = setTimeout(() => {
      this.areaTimer = null;
      this.segmentsPanel.refreshAreas();
      this.taxonomyPanel.renderDetail();
      this.refreshToolbar();
    }, 250);
  };

  private readonly refreshPanels = (): void => {
    this.segmentsPanel.render();
    this.taxonomyPanel.render();
    this.refreshToolbar();
  };

  private refreshToolbar(): void {
    const s = this.save.status;
    const dirty = !this.readOnly && this.save.isDirty;
    let text = s.message;
    if (!text || s.state === "clean") text = this.readOnly ? "Read-only" : dirty ? "Unsaved changes" : s.parent !== null ? `Revision ${s.parent}` : "New annotation";
    else if (dirty && (s.state === "saved" || s.state === "submitted")) text = "Unsaved changes";
    this.toolbar.update({
      tool: this.tool?.id ?? null,
      brushSize: this.settings.brushSize,
      order: this.doc.order,
      cut: this.settings.cut,
      opacity: this.opacity,
      outline: this.mainSource.outline,
      canUndo: this.doc.history.undoDepth > 0,
      canRedo: this.doc.history.redoDepth > 0,
      saveText: text,
      saveState: s.state,
      dirty,
    });
  }

  private readonly drawPreview = (): void => {
    const g = this.previewCtx;
    g.clearRect(0, 0, this.preview.width, this.preview.height);
    if (this.tool && this.hover && !this.spaceHeld) this.tool.drawPreview(g, this.hover);
    else if (this.tool?.id === "polygon") this.tool.drawPreview(g, null);
  };

  setTool(id: ToolId): void {
    if (this.readOnly) return;
    if (this.tool && this.tool.id !== id) this.tool.cancel();
    this.tool = this.tools.get(id) ?? null;
    this.stage.dataset["tool"] = id;
    this.stage.style.cursor = this.tool?.cursor ?? "default";
    this.refreshToolbar();
    this.loop.onNextFrame(this.drawPreview);
  }

  setBrushSize(px: number): void {
    this.settings.brushSize = Math.max(1, Math.min(1000, Math.round(px)));
    this.refreshToolbar();
    this.loop.onNextFrame(this.drawPreview);
  }

  private setOpacity(v: number): void {
    this.opacity = Math.max(0, Math.min(1, v));
    this.mainLayer.element.style.opacity = String(this.opacity);
    for (const l of this.review?.layers ?? []) l.element.style.opacity = String(Math.max(this.opacity, 0.6));
    this.refreshToolbar();
  }

  private setOutline(on: boolean): void {
    this.mainSource.outline = on;
    this.mainLayer.markAll();
    this.loop.request();
    this.refreshToolbar();
  }

  // ---- keyboard -------------------------------------------------------------------

  private actions(): EditorActions {
    return {
      setTool: (id) => this.setTool(id),
      growBrush: (f) => this.setBrushSize(f > 1 ? Math.max(this.settings.brushSize + 1, this.settings.brushSize * f) : Math.min(this.settings.brushSize - 1, this.settings.brushSize * f)),
      selectCategory: (id) => this.doc.selectCategory(id),
      newInstance: () => {
        if (!this.doc.startNewInstance()) this.toasts.show("Stuff classes (and semantic mode) have a single segment per category");
        else this.toasts.show("Next stroke starts a new instance");
      },
      undo: () => {
        if (!this.readOnly) this.doc.undo();
        this.refreshToolbar();
      },
      redo: () => {
        if (!this.readOnly) this.doc.redo();
        this.refreshToolbar();
      },
      save: () => void this.saveNow(),
      submit: () => void this.submit(),
      fit: () => this.viewport.fit(),
      toggleHelp: () => (this.help.hidden = !this.help.hidden),
      toggleDrawOrder: () => {
        this.doc.order = this.doc.order === "over" ? "behind" : "over";
        this.toasts.show(this.doc.order === "over" ? "Draw over" : "Draw behind: only void is painted");
        this.refreshToolbar();
      },
      toggleCut: () => {
        this.settings.cut = !this.settings.cut;
        this.refreshToolbar();
        this.loop.onNextFrame(this.drawPreview);
      },
      toggleOutline: () => this.setOutline(!this.mainSource.outline),
    };
  }

  private keyDown(ev: KeyboardEvent): void {
    if (ev.key === "Escape" && !this.help.hidden) {
      this.help.hidden = true;
      ev.preventDefault();
      return;
    }
    const ctrl = ev.ctrlKey || ev.metaKey;
    if (isTypingTarget(ev.target) && !(ctrl && (ev.key.toLowerCase() === "s" || ev.key === "Enter"))) return;
    if (ev.key === " ") {
      this.spaceHeld = true;
      ev.preventDefault();
      return;
    }
    if (this.tool?.keyDown(ev)) {
      ev.preventDefault();
      return;
    }
    if (this.review?.keyDown(ev)) {
      ev.preventDefault();
      return;
    }
    for (const b of this.bindings) {
      if (b.editOnly && this.readOnly) continue;
      if (b.match(ev)) {
        ev.preventDefault();
        this.loop.measureInput(() => b.run());
        return;
      }
    }
  }

  // ---- saving ---------------------------------------------------------------------

  async saveNow(): Promise<SaveStatus> {
    if (this.readOnly) return this.save.status;
    this.doc.endStroke();
    return this.save.save("manual");
  }

  async submit(): Promise<SaveStatus> {
    if (this.readOnly) return this.save.status;
    this.doc.endStroke();
    const s = await this.save.save("submit");
    if (s.state === "submitted" && (this.opts.redirectAfterSubmit ?? true)) {
      this.toasts.show("Submitted. Back to the queue…");
      setTimeout(() => window.location.assign(this.config.queueUrl), 1200);
    }
    return s;
  }

  private onSaveStatus(s: SaveStatus): void {
    this.refreshToolbar();
    if (s.state === "invalid") {
      this.segmentsPanel.setErrors(s.errors);
      this.toasts.show(s.message, "error", 6000);
    } else if (s.state === "saved" || s.state === "submitted") {
      this.segmentsPanel.setErrors([]);
    } else if (s.state === "error") {
      this.toasts.show(s.message, "error", 6000);
    } else if (s.state === "conflict") {
      this.showConflict(s);
    }
  }

  private showConflict(s: SaveStatus): void {
    this.dialog?.remove();
    const close = (): void => {
      this.dialog?.remove();
      this.dialog = null;
    };
    this.dialog = buildConflictDialog(s.currentRevision, s.parent, {
      keepMine: () => {
        close();
        void this.save.keepMineOnTop();
      },
      loadTheirs: () => {
        close();
        void this.loadTheirs();
      },
      later: close,
    });
    this.root.append(this.dialog);
  }

  /** Keeps the local work as an IndexedDB backup, then loads the server's latest revision. */
  async loadTheirs(): Promise<void> {
    try {
      const enc = await this.codec.encode();
      await saveBackup({
        taskId: this.config.taskId,
        savedAt: new Date().toISOString(),
        parent: this.save.parent,
        png: new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" }),
        segments: this.doc.table.snapshot(),
      });
    } catch (e) {
      this.toasts.show(`Could not keep a local backup (${e instanceof Error ? e.message : e}); kept your work`, "error", 8000);
      return;
    }
    const latest = await this.backend.getLatestAnnotation(this.config.taskId);
    const { width, height } = this.doc.map;
    const data = latest ? await loadRevisionMap(this.backend, this.codec, latest, width, height) : new Uint16Array(width * height);
    this.doc.replaceContent(data, latest ? recordsFromApi(latest.segments) : []);
    this.save.resetBaseline(latest?.revision ?? null, true);
    this.toasts.show("Loaded the latest revision; your version is kept as a local backup");
    void this.offerBackup();
  }

  private async offerBackup(): Promise<void> {
    const b = await loadBackup(this.config.taskId);
    if (!b) return;
    const btn = h("button", {
      type: "button",
      className: "tsr-restore",
      onclick: async () => {
        const png = new Uint8Array(await b.png.arrayBuffer());
        const dec = await this.codec.decode(png);
        this.doc.replaceContent(dec.data, b.segments);
        this.save.noteChange();
        btn.remove();
        this.toasts.show("Restored the local backup; save to put it on top of the latest revision");
      },
    }, `Restore local backup (${new Date(b.savedAt).toLocaleString()})`);
    this.segmentsPanel.element.querySelector(".tsr-restore")?.remove();
    this.segmentsPanel.element.insertBefore(btn, this.segmentsPanel.element.children[1] ?? null);
  }

  // ---- review ---------------------------------------------------------------------

  private hitAt(x: number, y: number): ImageHit {
    const xi = Math.floor(x);
    const yi = Math.floor(y);
    const label = this.doc.map.getLabel(xi, yi);
    const ref = this.review?.reference ?? null;
    const refLabel = ref ? ref.map.getLabel(xi, yi) : null;
    return {
      x,
      y,
      label,
      categoryId: this.doc.table.get(label)?.categoryId ?? null,
      referenceLabel: refLabel,
      referenceCategoryId: ref && refLabel ? (ref.table.get(refLabel)?.categoryId ?? null) : null,
    };
  }

  private readonly extensions: Array<{ onImageClick?: (hit: ImageHit, ev: PointerEvent) => void }> = [];

  private mountReviewExtensions(): void {
    const review = this.review;
    if (!review) return;
    const ctx: ReviewContext = {
      taskId: this.config.taskId,
      revisionId: this.config.revisionId,
      referenceRevisionId: this.config.referenceRevisionId,
      apiBase: this.config.apiBase,
      csrfToken: this.config.csrfToken,
      panelSlot: review.slot,
      markerLayer: this.markerLayer,
      imageToStage: (x, y) => this.viewport.toStage(x, y),
      hitAt: (x, y) => this.hitAt(x, y),
      segment: (id) => this.doc.table.get(id),
      onViewChange: (l) => this.viewListeners.push(l),
    };
    const mount = (ext: { mount(c: ReviewContext): void; onImageClick?: (hit: ImageHit, ev: PointerEvent) => void }): void => {
      ext.mount(ctx);
      this.extensions.push(ext);
    };
    for (const ext of reviewExtensions(mount)) mount(ext);
  }

  private imageClick(p: ImagePoint, ev: PointerEvent): void {
    if (!this.review) return;
    const hit = this.hitAt(p.x, p.y);
    for (const ext of this.extensions) ext.onImageClick?.(hit, ev);
  }

  // ---- accessors for the test hook and benchmarks -----------------------------------

  get toolId(): ToolId | null {
    return this.tool?.id ?? null;
  }

  /** Stage coordinates → client (page) coordinates, for browser tests. */
  imageToClient(x: number, y: number): { x: number; y: number } {
    const r = this.stage.getBoundingClientRect();
    const s = this.viewport.toStage(x, y);
    return { x: r.left + s.x, y: r.top + s.y };
  }

  /** Encodes the current map as a save would (worker), without saving: benchmarks. */
  encodeMap(): Promise<import("./io/codecClient").EncodeResult> {
    return this.codec.encode();
  }

  destroy(): void {
    for (const c of this.cleanups) c();
    this.save.dispose();
    this.codec.terminate();
    this.root.textContent = "";
  }
}
