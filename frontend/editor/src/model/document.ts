/**
 * The annotation being edited: label map + segment table + history, and every editing
 * operation as a method. No DOM here, so tools and tests drive the same code.
 */
import { rasterizeCapsule, type Point } from "../geometry/capsule";
import { floodFill } from "../geometry/floodFill";
import { forEachRleColumnRun, rleFromPolygon } from "../geometry/polygonRaster";
import { History } from "./history";
import { LabelMap, newGuard, type WriteGuard } from "./labelMap";
import { type Segment, type SegmentRecord, SegmentTable } from "./segments";
import { type Category, type ProjectMode, type Taxonomy, categoryById, isSingleSegmentCategory } from "./taxonomy";
import { buildGuard, type DrawOrder } from "./writePolicy";

export type OpResult = { ok: true; changed: number } | { ok: false; reason: string };

export interface DocumentOptions {
  mode: ProjectMode;
  taxonomy: Taxonomy;
  historyCapBytes?: number;
}

export class AnnotationDocument {
  readonly map: LabelMap;
  readonly table = new SegmentTable();
  readonly history: History;
  readonly mode: ProjectMode;
  readonly taxonomy: Taxonomy;
  order: DrawOrder = "over";
  activeCategory: number;
  activeSegment = 0;
  /** Set by "n": the next paint creates a new instance of the active thing category. */
  pendingNewInstance = false;
  private readonly guard: WriteGuard = newGuard();
  private stroke: { value: number; tableBefore: SegmentRecord[] } | null = null;
  private readonly listeners: Array<() => void> = [];

  constructor(width: number, height: number, opts: DocumentOptions, data?: Uint16Array) {
    this.map = new LabelMap(width, height, data);
    this.mode = opts.mode;
    this.taxonomy = opts.taxonomy;
    this.history = new History(this.map, opts.historyCapBytes, (records) => this.table.restore(records));
    this.activeCategory = opts.taxonomy.categories[0]?.id ?? 0;
  }

  /** Active-selection changes (the table has its own listeners). */
  onSelectionChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  private emitSelection(): void {
    for (const l of this.listeners) l();
  }

  category(id: number): Category | undefined {
    return categoryById(this.taxonomy, id);
  }

  selectCategory(categoryId: number): void {
    const cat = this.category(categoryId);
    if (!cat) return;
    this.activeCategory = categoryId;
    this.pendingNewInstance = false;
    const current = this.table.get(this.activeSegment);
    if (!current || current.categoryId !== categoryId) {
      // Continue the most recent segment of that category; none → created on first paint.
      const existing = this.table.ofCategory(categoryId);
      this.activeSegment = existing.length > 0 ? existing[existing.length - 1]!.id : 0;
    }
    this.emitSelection();
  }

  selectSegment(id: number): void {
    const seg = this.table.get(id);
    if (!seg) return;
    this.activeSegment = id;
    this.activeCategory = seg.categoryId;
    this.pendingNewInstance = false;
    this.emitSelection();
  }

  /** "n": a new instance for thing classes; stuff (and semantic mode) keeps its single segment. */
  startNewInstance(): boolean {
    const cat = this.category(this.activeCategory);
    if (!cat || isSingleSegmentCategory(this.mode, cat)) return false;
    this.pendingNewInstance = true;
    this.activeSegment = 0;
    this.emitSelection();
    return true;
  }

  /** The segment a paint operation writes, creating it when needed (inside the open history step). */
  private resolvePaintTarget(): Segment | string {
    const cat = this.category(this.activeCategory);
    if (!cat) return "pick a category first";
    if (isSingleSegmentCategory(this.mode, cat)) {
      const existing = this.table.ofCategory(cat.id)[0];
      if (existing) {
        this.activeSegment = existing.id;
        return existing;
      }
    } else if (!this.pendingNewInstance) {
      const current = this.table.get(this.activeSegment);
      if (current && current.categoryId === cat.id) return current;
    }
    const seg = this.table.create(cat.id);
    this.activeSegment = seg.id;
    this.pendingNewInstance = false;
    this.emitSelection();
    return seg;
  }

  private begin(label: string): SegmentRecord[] {
    const before = this.table.snapshot();
    this.history.begin(label);
    return before;
  }

  private commit(tableBefore: SegmentRecord[]): void {
    this.history.commit({ before: tableBefore, after: this.table.snapshot() });
  }

  /** Starts a brush (erase=false) or eraser stroke; stamps follow with strokeTo. */
  beginStroke(erase: boolean): OpResult {
    if (this.stroke) this.endStroke();
    const tableBefore = this.begin(erase ? "erase" : "brush");
    let value = 0;
    let target = this.activeSegment;
    if (!erase) {
      const seg = this.resolvePaintTarget();
      if (typeof seg === "string") {
        this.history.rollback();
        return { ok: false, reason: seg };
      }
      if (seg.locked || seg.hidden) {
        this.history.rollback();
        this.table.restore(tableBefore);
        return { ok: false, reason: `segment ${seg.id} is ${seg.locked ? "locked" : "hidden"}` };
      }
      if (!seg.confirmed) seg.confirmed = true; // editing a pre-label confirms it
      value = seg.id;
      target = seg.id;
    }
    buildGuard(this.table, { target, order: this.order, erase }, this.guard);
    this.stroke = { value, tableBefore };
    return { ok: true, changed: 0 };
  }

  strokeTo(p0: Point, p1: Point, radius: number): number {
    const s = this.stroke;
    if (!s) return 0;
    this.strokeChanged = 0;
    this.strokeValue = s.value;
    // One dirty report per stamp (its bounding box), not one per row span.
    this.map.batch(() => rasterizeCapsule(p0, p1, radius, this.writeSpan, this.map));
    return this.strokeChanged;
  }

  private strokeChanged = 0;
  private strokeValue = 0;
  /** The span callback of strokeTo, created once (a closure per stamp would be garbage). */
  private readonly writeSpan = (y: number, x0: number, x1: number): void => {
    this.strokeChanged += this.map.writeRowSpan(y, x0, x1, this.strokeValue, this.guard);
  };

  endStroke(): void {
    const s = this.stroke;
    if (!s) return;
    this.stroke = null;
    this.commit(s.tableBefore);
  }

  get strokeActive(): boolean {
    return this.stroke !== null;
  }

  fillAt(x: number, y: number): OpResult {
    const tableBefore = this.begin("fill");
    const seg = this.resolvePaintTarget();
    if (typeof seg === "string" || seg.locked || seg.hidden) {
      this.history.rollback();
      this.table.restore(tableBefore);
      return { ok: false, reason: typeof seg === "string" ? seg : `segment ${seg.id} is protected` };
    }
    buildGuard(this.table, { target: seg.id, order: this.order, erase: false }, this.guard);
    const changed = floodFill(this.map, Math.floor(x), Math.floor(y), seg.id, this.guard);
    if (changed > 0 && !seg.confirmed) seg.confirmed = true;
    if (changed === 0) {
      this.history.rollback();
      this.table.restore(tableBefore);
      return { ok: false, reason: "nothing to fill here (same segment, protected or drawn behind)" };
    }
    this.commit(tableBefore);
    return { ok: true, changed };
  }

  /**
   * Fills a polygon (pycocotools pixel rule) with the active segment, or with `cut` turns
   * the active segment's pixels inside it into void (a hole).
   */
  fillPolygon(xy: number[], cut: boolean): OpResult {
    if (xy.length < 6) return { ok: false, reason: "a polygon needs at least 3 vertices" };
    const tableBefore = this.begin(cut ? "cut" : "polygon");
    let value: number;
    let record: Segment | null = null;
    if (cut) {
      const seg = this.table.get(this.activeSegment);
      if (!seg) {
        this.history.rollback();
        return { ok: false, reason: "select the segment to cut first" };
      }
      if (seg.locked || seg.hidden) {
        this.history.rollback();
        return { ok: false, reason: `segment #${seg.id} is ${seg.locked ? "locked" : "hidden"}: unlock or show it to cut a hole` };
      }
      buildGuard(this.table, { target: seg.id, order: "behind", erase: true }, this.guard);
      value = 0;
      record = seg;
    } else {
      const seg = this.resolvePaintTarget();
      if (typeof seg === "string" || seg.locked || seg.hidden) {
        this.history.rollback();
        this.table.restore(tableBefore);
        return { ok: false, reason: typeof seg === "string" ? seg : `segment ${seg.id} is protected` };
      }
      buildGuard(this.table, { target: seg.id, order: this.order, erase: false }, this.guard);
      value = seg.id;
      seg.confirmed = true;
      record = seg;
    }
    const { map, guard } = this;
    let changed = 0;
    const counts = rleFromPolygon(xy, map.height, map.width);
    forEachRleColumnRun(counts, map.height, (x, y0, y1) => {
      changed += map.writeColumnRun(x, y0, y1, value, guard);
    });
    if (cut && changed === 0) {
      this.history.rollback();
      this.table.restore(tableBefore);
      return { ok: false, reason: `nothing to cut: segment #${record.id} has no pixels inside the polygon` };
    }
    record.polygons.push({ vertices: xy.slice(), cut });
    this.commit(tableBefore);
    return { ok: true, changed };
  }

  deleteSegment(id: number): OpResult {
    const seg = this.table.get(id);
    if (!seg) return { ok: false, reason: "no such segment" };
    if (seg.locked) return { ok: false, reason: "unlock the segment first" };
    const tableBefore = this.begin("delete");
    const changed = this.map.relabel(id, 0);
    this.table.remove(id);
    if (this.activeSegment === id) this.activeSegment = 0;
    this.commit(tableBefore);
    this.emitSelection();
    return { ok: true, changed };
  }

  /**
   * Changes a segment's category. Where the new category allows one segment only (stuff,
   * semantic mode) and already has one, the pixels merge into it.
   */
  setCategory(id: number, categoryId: number): OpResult {
    const seg = this.table.get(id);
    const cat = this.category(categoryId);
    if (!seg || !cat) return { ok: false, reason: "unknown segment or category" };
    if (seg.categoryId === categoryId) return { ok: true, changed: 0 };
    if (seg.locked) return { ok: false, reason: "unlock the segment first" };
    const tableBefore = this.begin("category");
    let changed = 0;
    const single = isSingleSegmentCategory(this.mode, cat);
    const into = single ? this.table.ofCategory(categoryId).find((s) => s.id !== id) : undefined;
    if (into) {
      changed = this.map.relabel(id, into.id);
      // The merged segment's drawing history goes with its pixels.
      for (const p of seg.polygons) into.polygons.push({ vertices: p.vertices.slice(), cut: p.cut });
      this.table.remove(id);
      if (this.activeSegment === id) this.activeSegment = into.id;
    } else {
      seg.categoryId = categoryId;
      seg.confirmed = true;
      this.table.emit();
    }
    if (this.activeSegment === (into?.id ?? id)) this.activeCategory = categoryId;
    this.commit(tableBefore);
    this.emitSelection();
    return { ok: true, changed };
  }

  confirm(id: number): void {
    const seg = this.table.get(id);
    if (!seg || seg.confirmed) return;
    const tableBefore = this.begin("confirm");
    seg.confirmed = true;
    this.table.emit();
    this.commit(tableBefore);
  }

  setHidden(id: number, hidden: boolean): void {
    const seg = this.table.get(id);
    if (seg && seg.hidden !== hidden) {
      seg.hidden = hidden;
      this.table.emit();
    }
  }

  setLocked(id: number, locked: boolean): void {
    const seg = this.table.get(id);
    if (seg && seg.locked !== locked) {
      seg.locked = locked;
      this.table.emit();
    }
  }

  undo(): boolean {
    if (this.stroke) this.endStroke();
    const step = this.history.undo();
    this.fixSelection();
    return step !== null;
  }

  redo(): boolean {
    if (this.stroke) this.endStroke();
    const step = this.history.redo();
    this.fixSelection();
    return step !== null;
  }

  private fixSelection(): void {
    if (this.activeSegment && !this.table.has(this.activeSegment)) this.activeSegment = 0;
    this.emitSelection();
  }

  /**
   * Replaces map and table wholesale (load another revision, restore a backup). Undo
   * history is dropped: its tiles describe a map that no longer exists.
   */
  replaceContent(data: Uint16Array, records: SegmentRecord[]): void {
    if (data.length !== this.map.data.length) throw new Error("replacement map has another size");
    if (this.stroke) this.endStroke();
    this.map.data.set(data);
    this.map.recountAreas();
    this.map.version++;
    this.table.restore(records);
    this.history.clear();
    this.activeSegment = 0;
    this.pendingNewInstance = false;
    this.map.markAllDirty();
    this.emitSelection();
  }

  area(id: number): number {
    return this.map.area[id] ?? 0;
  }

  /** Grows with every change to pixels or table (strokes in progress included): "unsaved changes". */
  get version(): number {
    return this.map.version + this.history.changeCount;
  }
}
