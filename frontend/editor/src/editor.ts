/**
 * Wires the editor together: loads task, taxonomy and revision through a Backend, builds
 * the document, the tiled layers, tools, panels and the save controller, and exposes the
 * read-only test hook. Each part lives in its own module; this file only connects them.
 */
import type { EditorConfig } from "./config";
import { type Backend, csrfFromCookie, HttpBackend, ReviewFixBackend, type RevisionPayload } from "./io/api";
import { CodecClient, type MapOrigin } from "./io/codecClient";
import { type BackupKind, deleteBackup, describeAge, type LocalBackup, loadBackup, saveBackup } from "./io/localBackup";
import { reconcileTable, recordsFromApi } from "./io/revisionIo";
import { SaveController, type SaveStatus, type UnsavedWorkStore } from "./io/saveController";
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
import { type ImageHit, type ReviewContext, type ReviewExtension, reviewExtensions } from "./review/extension";
import { type ReferenceRevision, ReviewView } from "./review/reviewView";
import { FillTool } from "./tools/fillTool";
import { PolygonTool } from "./tools/polygonTool";
import { createBrush, createEraser } from "./tools/strokeTool";
import type { ImagePoint, Tool, ToolContext, ToolId, ToolSettings } from "./tools/tool";
import { buildConfirmDialog, buildConflictDialog, buildNotEditableDialog } from "./ui/conflictDialog";
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
  /** Fix mode: the comment sent with the fix (the review page's comment field). */
  fixComment?: () => string;
  /** Fix mode: the pinned comments sent with the fix (decision-endpoint shape). */
  fixPins?: () => unknown[];
  /** Fix mode: called after the fix was accepted (instead of going to config.queueUrl). */
  onFixed?: () => void;
}

/** Above this many pixels the overlay is drawn at reduced resolution when zoomed out. */
const REDUCED_RES_PIXELS = 16_000_000;

/** `keep`: the map will be edited, so the codec worker keeps its copy as the save mirror. */
async function loadRevisionMap(backend: Backend, codec: CodecClient, rev: RevisionPayload, w: number, h: number, keep = false): Promise<{ data: Uint16Array; origin: MapOrigin }> {
  const png = await backend.getIndexMapPng(rev.index_map);
  const decoded = await codec.decode(png, keep);
  if (decoded.width !== w || decoded.height !== h) {
    throw new Error(`revision ${rev.revision} map is ${decoded.width}×${decoded.height}, image is ${w}×${h}`);
  }
  return { data: decoded.data, origin: decoded.decodeId !== null ? { decodeId: decoded.decodeId } : null };
}

export async function mountEditor(root: HTMLElement, config: EditorConfig, opts: MountOptions = {}): Promise<TesseraEditor> {
  root.classList.add("tsr-root");
  root.textContent = "Loading annotation…";
  // The CSRF token is read at each request: signing in again in another tab rotates it.
  const http = { apiBase: config.apiBase, csrfToken: csrfFromCookie(config.csrfToken) };
  const backend =
    opts.backend ??
    (config.mode === "fix" ? new ReviewFixBackend(http, config.reviewItemId!, opts.fixComment ?? (() => ""), opts.fixPins) : new HttpBackend(http));
  const codec = new CodecClient();
  try {
    const task = await backend.getTask(config.taskId);
    const [taxonomy, revision] = await Promise.all([
      backend.getTaxonomy(task.taxonomy),
      config.revisionId !== null ? backend.getRevision(config.revisionId) : backend.getLatestAnnotation(config.taskId),
    ]);
    const { width, height } = task.image;
    const loaded = revision ? await loadRevisionMap(backend, codec, revision, width, height, config.mode !== "review") : null;
    let reference: ReferenceRevision | null = null;
    if (config.mode === "review" && config.referenceRevisionId !== null) {
      const ref = await backend.getRevision(config.referenceRevisionId);
      const table = new SegmentTable();
      table.restore(recordsFromApi(ref.segments));
      reference = {
        revision: ref.revision,
        revisionId: ref.revision_id,
        author: ref.author,
        map: new LabelMap(width, height, (await loadRevisionMap(backend, codec, ref, width, height)).data),
        table,
      };
    }
    root.textContent = "";
    return new TesseraEditor(root, config, opts, backend, codec, task, taxonomy, revision, loaded?.data, loaded ? loaded.origin : "zeros", reference);
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
  /** Local backups are kept per user and per thing edited: the task, or a review's fix. */
  private readonly backupScope: string;
  /** The settled save state last announced with a toast (toasts on changes only). */
  private lastAnnounced = "";
  /** A restored backup, deleted once its content is saved on the server. */
  private restoredBackup: BackupKind | null = null;
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
    origin: MapOrigin,
    reference: ReferenceRevision | null,
  ) {
    const { width, height } = task.image;
    // A reviewer's fix edits a copy of work the reviewer cannot edit as a task.
    this.readOnly = config.mode === "review" || (config.mode === "edit" && !task.can_edit);
    this.backupScope = config.mode === "fix" ? `review:${config.reviewItemId}` : `task:${config.taskId}`;
    this.doc = new AnnotationDocument(width, height, { mode: task.mode, taxonomy, historyCapBytes: opts.historyCapBytes }, data);
    if (revision) this.doc.table.restore(recordsFromApi(revision.segments));
    const orphans = reconcileTable(this.doc);
    for (const id of orphans) this.doc.table.create(taxonomy.categories[0]?.id ?? 0, { id, confirmed: false, source: "unknown" });
    this.doc.history.clear();
    codec.attach(this.doc.map, origin);

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
      config.mode === "fix" ? "Submit fix" : "Submit",
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
    const unsaved: UnsavedWorkStore = {
      keep: (w) => saveBackup({ kind: "unsaved", user: config.username, scope: this.backupScope, ...w }),
      drop: () => deleteBackup("unsaved", config.username, this.backupScope),
    };
    this.save = new SaveController(this.doc, backend, codec, config.taskId, revision?.revision ?? null, {
      autosaveDelayMs: opts.autosaveDelayMs,
      unsaved,
      drafts: config.mode === "fix" ? "local" : "server",
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
      const ev = e as KeyboardEvent;
      if (ev.key !== " ") return;
      // A focused button or checkbox would act on Space's keyup: Space is the pan key here.
      if (this.spaceHeld && !isTypingTarget(ev.target)) ev.preventDefault();
      this.spaceHeld = false;
    });
    this.listen(window, "blur", () => (this.spaceHeld = false));
    this.listen(window, "resize", () => this.fitRootHeight());
    this.listen(window, "beforeunload", (e) => {
      if (!this.readOnly && this.save.isDirty) {
        e.preventDefault();
        (e as BeforeUnloadEvent).returnValue = ""; // older Chromium and Safari need both
      }
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
    // Read-only too: work that failed to save before the task left the annotator's hands
    // can still be downloaded from here.
    void this.offerBackup();
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
      this.taxonomyPanel.refreshWarning();
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
    else if (dirty && s.state !== "saving") text = `${s.message} · Unsaved changes`;
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
    const polygon = this.tools.get("polygon") as PolygonTool;
    if (this.tool?.id === "polygon" && id !== "polygon" && polygon.vertexCount > 0) {
      // Not discarded: switching back (P) continues it; Escape there cancels it.
      this.toasts.show(`Unfinished polygon kept (${polygon.vertexCount} vertices): press P to finish it`, "warn");
    }
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
    if (this.dialog) return; // a dialog is open: its buttons take the keys
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
    for (const ext of this.extensions) {
      if (ext.onKeyDown?.(ev)) {
        ev.preventDefault();
        return;
      }
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
    if (s.state === "submitted" && this.config.mode === "fix") {
      this.toasts.show("Fix accepted");
      void deleteBackup("unsaved", this.config.username, this.backupScope).catch(() => undefined);
      if (this.opts.onFixed) this.opts.onFixed();
      else if (this.opts.redirectAfterSubmit ?? true) setTimeout(() => window.location.assign(this.config.queueUrl), 1200);
    } else if (s.state === "submitted" && (this.opts.redirectAfterSubmit ?? true)) {
      this.toasts.show("Submitted. Back to the queue…");
      setTimeout(() => window.location.assign(this.config.queueUrl), 1200);
    }
    return s;
  }

  private onSaveStatus(s: SaveStatus): void {
    this.refreshToolbar();
    if (s.state === "saving") return;
    // Toasts and dialogs on a change of state only: a retry that fails the same way is quiet.
    const key = `${s.state}|${s.message}`;
    const changed = key !== this.lastAnnounced;
    this.lastAnnounced = key;
    if (s.state === "invalid") {
      this.segmentsPanel.setErrors(s.errors, s.errorsFromSubmit ? "Submission refused" : "Save refused");
      if (changed) this.toasts.show(s.message, "error", 6000);
    } else if (s.state === "submitted" || ((s.state === "saved" || s.state === "clean") && !s.errorsFromSubmit)) {
      this.segmentsPanel.setErrors([]);
    }
    if (s.state === "saved" && this.restoredBackup && !s.keptLocally) {
      // The restored work is on the server now: its backup has done its job.
      void deleteBackup(this.restoredBackup, this.config.username, this.backupScope).catch(() => undefined);
      this.restoredBackup = null;
    }
    if (!changed) return;
    if (s.state === "error" || s.state === "signed_out") this.toasts.show(s.message, "error", 8000);
    else if (s.state === "conflict") this.showConflict(s);
    else if (s.state === "not_editable") this.showNotEditable(s);
  }

  private closeDialog(): void {
    this.dialog?.remove();
    this.dialog = null;
    this.stage.focus({ preventScroll: true });
  }

  private openDialog(d: HTMLElement): void {
    this.dialog?.remove();
    this.dialog = d;
    this.root.append(d);
    d.querySelector("button")?.focus();
  }

  private showConflict(s: SaveStatus): void {
    this.openDialog(
      buildConflictDialog(s.currentRevision, s.parent, {
        keepMine: () => {
          this.closeDialog();
          void this.save.keepMineOnTop().catch((e: unknown) => this.toasts.show(`Could not save: ${e instanceof Error ? e.message : e}`, "error", 8000));
        },
        loadTheirs: () => {
          this.closeDialog();
          void this.loadTheirs().catch((e: unknown) => this.toasts.show(`Could not load the latest revision: ${e instanceof Error ? e.message : e}`, "error", 8000));
        },
        later: () => this.closeDialog(),
      }),
    );
  }

  /** The task can no longer be saved here (submitted elsewhere, reassigned, review decided). */
  private showNotEditable(s: SaveStatus): void {
    this.openDialog(
      buildNotEditableDialog(s.message, s.keptLocally, {
        download: () => void this.downloadWork(),
        reload: () => window.location.reload(),
        close: () => this.closeDialog(),
      }),
    );
  }

  /** Saves the index map (PNG) and segment table (JSON) of what is on screen as files. */
  async downloadWork(): Promise<void> {
    let segments = this.doc.table.snapshot();
    const enc = await this.codec.encode(() => (segments = this.doc.table.snapshot()));
    this.downloadFiles(new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" }), segments, this.save.parent);
  }

  private downloadFiles(png: Blob, segments: unknown, parent: number | null): void {
    const name = `task-${this.config.taskId}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const save = (blob: Blob, file: string): void => {
      const a = h("a", { href: URL.createObjectURL(blob), download: file });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    };
    save(png, `${name}-index-map.png`);
    save(new Blob([JSON.stringify({ task: this.config.taskId, parent, segments }, null, 1)], { type: "application/json" }), `${name}-segments.json`);
  }

  /** What is on screen, as a local backup of `kind` (before it gets replaced). */
  private async keepOnScreen(kind: BackupKind): Promise<void> {
    let segments = this.doc.table.snapshot();
    const enc = await this.codec.encode(() => (segments = this.doc.table.snapshot()));
    await saveBackup({
      kind,
      user: this.config.username,
      scope: this.backupScope,
      savedAt: new Date().toISOString(),
      parent: this.save.parent,
      png: new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" }),
      segments,
    });
  }

  /** Keeps the local work as an IndexedDB backup, then loads the server's latest revision. */
  async loadTheirs(): Promise<void> {
    try {
      await this.keepOnScreen("conflict");
    } catch (e) {
      this.toasts.show(`Could not keep a local backup (${e instanceof Error ? e.message : e}); kept your work`, "error", 8000);
      return;
    }
    const latest = await this.backend.getLatestAnnotation(this.config.taskId);
    const { width, height } = this.doc.map;
    const loaded = latest ? await loadRevisionMap(this.backend, this.codec, latest, width, height, true) : null;
    this.doc.replaceContent(loaded?.data ?? new Uint16Array(width * height), latest ? recordsFromApi(latest.segments) : []);
    this.codec.rebase(loaded ? loaded.origin : "zeros");
    this.save.resetBaseline(latest?.revision ?? null, true);
    this.toasts.show("Loaded the latest revision; your version is kept as a local backup");
    void this.offerBackup();
  }

  private backupButtons = new Map<BackupKind, HTMLElement>();

  /** Offers the local backups of this task (or fix): restore (confirmed) or discard. */
  async offerBackup(): Promise<void> {
    for (const kind of ["unsaved", "conflict"] as const) {
      const b = await loadBackup(kind, this.config.username, this.backupScope);
      this.backupButtons.get(kind)?.remove();
      this.backupButtons.delete(kind);
      if (!b) continue;
      const what = kind === "unsaved" ? "Unsaved work" : "Local backup";
      const based = b.parent !== null ? `based on revision ${b.parent}` : "based on no saved revision";
      const box = h(
        "div",
        { className: "tsr-restore", "data-testid": `backup-${kind}` },
        h("span", {}, `${what} from ${describeAge(b.savedAt)} (${based})`),
        this.readOnly
          ? h("button", { type: "button", className: "tsr-restore-btn", onclick: () => this.downloadFiles(b.png, b.segments, b.parent) }, "Download")
          : h("button", { type: "button", className: "tsr-restore-btn", onclick: () => this.confirmRestore(kind, b) }, "Restore…"),
        h("button", { type: "button", className: "tsr-discard-btn", onclick: () => this.confirmDiscard(kind, b) }, "Discard…"),
      );
      this.backupButtons.set(kind, box);
      this.segmentsPanel.element.insertBefore(box, this.segmentsPanel.element.children[1] ?? null);
    }
  }

  private confirmRestore(kind: BackupKind, b: LocalBackup): void {
    const dirty = this.save.isDirty;
    this.openDialog(
      buildConfirmDialog(
        "Restore the local backup?",
        `It replaces what is on screen with the work from ${describeAge(b.savedAt)} (${b.parent !== null ? `based on revision ${b.parent}` : "never saved"}). ` +
          (dirty ? "What is on screen now has unsaved changes: it is kept as a local backup first. " : "What is on screen now is saved as revision " + (this.save.parent ?? "—") + ". ") +
          "Saving afterwards puts the restored work on top of the latest revision.",
        "Restore",
        () => {
          this.closeDialog();
          void this.restore(kind, b, dirty).catch((e: unknown) => this.toasts.show(`Could not restore: ${e instanceof Error ? e.message : e}`, "error", 8000));
        },
        () => this.closeDialog(),
      ),
    );
  }

  private confirmDiscard(kind: BackupKind, b: LocalBackup): void {
    this.openDialog(
      buildConfirmDialog(
        "Discard the local backup?",
        `The work from ${describeAge(b.savedAt)} kept in this browser is deleted. This cannot be undone.`,
        "Discard",
        () => {
          this.closeDialog();
          void deleteBackup(kind, this.config.username, this.backupScope).then(() => this.offerBackup());
        },
        () => this.closeDialog(),
      ),
    );
  }

  private async restore(kind: BackupKind, b: LocalBackup, keepCurrent: boolean): Promise<void> {
    const dec = await this.codec.decode(new Uint8Array(await b.png.arrayBuffer()), true);
    if (dec.width !== this.doc.map.width || dec.height !== this.doc.map.height) throw new Error("the backup is of another image size");
    if (keepCurrent) await this.keepOnScreen("conflict"); // swap: what was on screen becomes the backup
    this.doc.replaceContent(dec.data, b.segments);
    this.codec.rebase(dec.decodeId !== null ? { decodeId: dec.decodeId } : null);
    this.save.resetBaseline(this.save.parent, false);
    // If the screen's previous state went into the same slot, that backup must stay.
    this.restoredBackup = keepCurrent && kind === "conflict" ? null : kind;
    if (keepCurrent && kind !== "conflict") void deleteBackup(kind, this.config.username, this.backupScope).catch(() => undefined);
    this.save.noteChange();
    this.toasts.show(keepCurrent ? "Restored; what was on screen is kept as a local backup" : "Restored the local backup; save to put it on top of the latest revision");
    await this.offerBackup();
    this.refreshToolbar();
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

  private readonly extensions: ReviewExtension[] = [];

  private mountReviewExtensions(): void {
    const review = this.review;
    if (!review) return;
    const ctx: ReviewContext = {
      taskId: this.config.taskId,
      revisionId: this.config.revisionId,
      referenceRevisionId: this.config.referenceRevisionId,
      reviewItemId: this.config.reviewItemId,
      apiBase: this.config.apiBase,
      csrfToken: this.config.csrfToken,
      panelSlot: review.slot,
      markerLayer: this.markerLayer,
      imageToStage: (x, y) => this.viewport.toStage(x, y),
      hitAt: (x, y) => this.hitAt(x, y),
      segment: (id) => this.doc.table.get(id),
      onViewChange: (l) => this.viewListeners.push(l),
      imageToClient: (x, y) => this.imageToClient(x, y),
    };
    const mount = (ext: ReviewExtension): void => {
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

  /** How often the taxonomy detail was rebuilt (painting must not rebuild it). */
  get taxonomyDetailBuilds(): number {
    return this.taxonomyPanel.detailBuilds;
  }

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
