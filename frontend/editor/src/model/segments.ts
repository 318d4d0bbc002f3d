/**
 * The segment table: what each id in the label map means. Areas are not stored here;
 * they live in LabelMap.area, which every write keeps exact.
 */
import { MAX_LABEL } from "./labelMap";

export type SegmentSource = string; // "editor", or the name of a pre-labelling source

/** Persisted fields: what a revision stores (and what undo restores). */
export interface SegmentRecord {
  id: number;
  categoryId: number;
  iscrowd: boolean;
  confirmed: boolean;
  source: SegmentSource;
  attributes: Record<string, unknown>;
  /** Polygons drawn on this segment, in order, kept as provenance (cut = a hole cut into it). */
  polygons: PolygonRecord[];
}

/** One drawn polygon: vertices [x1, y1, x2, y2, …]; `cut` when it cut a hole (made pixels void). */
export interface PolygonRecord {
  vertices: number[];
  cut: boolean;
}

function copyPolygons(p: PolygonRecord[]): PolygonRecord[] {
  return p.map((r) => ({ vertices: r.vertices.slice(), cut: r.cut }));
}

/** Session-only view flags: never saved, never undone. */
export interface SegmentUiFlags {
  hidden: boolean;
  locked: boolean;
}

export type Segment = SegmentRecord & SegmentUiFlags;

export type TableListener = () => void;

export class SegmentTable {
  private readonly byId = new Map<number, Segment>();
  private readonly listeners: TableListener[] = [];

  onChange(listener: TableListener): void {
    this.listeners.push(listener);
  }

  emit(): void {
    for (const l of this.listeners) l();
  }

  get(id: number): Segment | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  all(): Segment[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Smallest free id above every used one, else the smallest free id (ids are 16-bit). */
  nextId(): number {
    let max = 0;
    for (const id of this.byId.keys()) if (id > max) max = id;
    if (max < MAX_LABEL) return max + 1;
    for (let id = 1; id <= MAX_LABEL; id++) if (!this.byId.has(id)) return id;
    throw new Error("no free segment id (65535 segments in use)");
  }

  create(categoryId: number, init: Partial<SegmentRecord> = {}): Segment {
    const id = init.id ?? this.nextId();
    if (id <= 0 || id > MAX_LABEL) throw new Error(`segment id ${id} out of range`);
    if (this.byId.has(id)) throw new Error(`segment ${id} exists`);
    const seg: Segment = {
      id,
      categoryId,
      iscrowd: init.iscrowd ?? false,
      confirmed: init.confirmed ?? true,
      source: init.source ?? "editor",
      attributes: init.attributes ?? {},
      polygons: init.polygons ? copyPolygons(init.polygons) : [],
      hidden: false,
      locked: false,
    };
    this.byId.set(id, seg);
    this.emit();
    return seg;
  }

  remove(id: number): void {
    if (this.byId.delete(id)) this.emit();
  }

  /** Segments of one category, oldest first. */
  ofCategory(categoryId: number): Segment[] {
    return this.all().filter((s) => s.categoryId === categoryId);
  }

  snapshot(): SegmentRecord[] {
    return this.all().map((s) => ({
      id: s.id,
      categoryId: s.categoryId,
      iscrowd: s.iscrowd,
      confirmed: s.confirmed,
      source: s.source,
      attributes: structuredClone(s.attributes),
      polygons: copyPolygons(s.polygons),
    }));
  }

  /** Replaces the persisted fields, keeping the hidden/locked flags of surviving ids. */
  restore(records: SegmentRecord[]): void {
    const old = new Map(this.byId);
    this.byId.clear();
    for (const r of records) {
      const prev = old.get(r.id);
      this.byId.set(r.id, {
        ...r,
        attributes: structuredClone(r.attributes),
        polygons: copyPolygons(r.polygons),
        hidden: prev?.hidden ?? false,
        locked: prev?.locked ?? false,
      });
    }
    this.emit();
  }
}
