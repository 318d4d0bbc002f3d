/**
 * Undo/redo by tiles: a step keeps the before/after pixels of only the tiles it touched,
 * so a brush stroke over a 33 MP map costs a few hundred KiB, not the whole map. The cap
 * is in bytes, not steps, because one bucket fill can weigh more than a thousand dabs.
 *
 * "Before" is copied when a tile is first written; "after" is copied only when the step is
 * undone (at that moment the map holds exactly the step's after-state, since later steps
 * were undone first). So ending a long stroke costs nothing, instead of a copy and a
 * comparison of every tile it crossed.
 */
import type { LabelMap, TileWriteObserver } from "./labelMap";
import type { SegmentRecord } from "./segments";

export interface TilePatch {
  tile: number;
  before: Uint16Array;
  /** Captured on first undo. */
  after: Uint16Array | null;
}

export interface HistoryStep {
  label: string;
  tiles: TilePatch[];
  tableBefore: SegmentRecord[] | null;
  tableAfter: SegmentRecord[] | null;
  bytes: number;
}

/** Rough per-record weight of a table snapshot, so table-only steps still count. */
const RECORD_BYTES = 128;
export const DEFAULT_HISTORY_CAP_BYTES = 256 * 1024 * 1024;

export class History implements TileWriteObserver {
  private readonly undoStack: HistoryStep[] = [];
  private readonly redoStack: HistoryStep[] = [];
  private pending: Map<number, Uint16Array> | null = null;
  /** pending.has(tile) as a flat table: asked for every row span a brush writes. */
  private snapped: Uint8Array = new Uint8Array(0);
  private pendingLabel = "";
  private pendingVersion = 0;
  private totalBytes = 0;
  /** Committed, undone and redone steps so far: a version number for table-only changes too. */
  changeCount = 0;

  constructor(
    private readonly map: LabelMap,
    public capBytes: number = DEFAULT_HISTORY_CAP_BYTES,
    private readonly restoreTable: (records: SegmentRecord[]) => void = () => {},
  ) {}

  get bytes(): number {
    return this.totalBytes;
  }
  get undoDepth(): number {
    return this.undoStack.length;
  }
  get redoDepth(): number {
    return this.redoStack.length;
  }
  get inTransaction(): boolean {
    return this.pending !== null;
  }

  /** Starts recording; every tile written from now on is snapshotted once before its first write. */
  begin(label: string): void {
    if (this.pending) this.commit();
    this.pending = new Map();
    if (this.snapped.length !== this.map.tileCount) this.snapped = new Uint8Array(this.map.tileCount);
    this.pendingLabel = label;
    this.pendingVersion = this.map.version;
    this.map.observer = this;
  }

  beforeTileWrite(tile: number): void {
    const p = this.pending;
    if (p && this.snapped[tile] === 0) {
      this.snapped[tile] = 1;
      p.set(tile, this.map.readTile(tile));
    }
  }

  /** Ends the open step's bookkeeping (commit or rollback). */
  private close(): Map<number, Uint16Array> | null {
    const pending = this.pending;
    this.pending = null;
    this.map.observer = null;
    if (pending) for (const tile of pending.keys()) this.snapped[tile] = 0;
    return pending;
  }

  /** Ends the step; a step that changed neither pixels nor table is not kept. */
  commit(table?: { before: SegmentRecord[]; after: SegmentRecord[] }): HistoryStep | null {
    const pending = this.close();
    if (!pending) return null;
    const tiles: TilePatch[] = [];
    let bytes = 0;
    if (this.map.version !== this.pendingVersion) {
      for (const [tile, before] of pending) {
        tiles.push({ tile, before, after: null });
        bytes += before.byteLength;
      }
    }
    const tableChanged = table !== undefined && JSON.stringify(table.before) !== JSON.stringify(table.after);
    if (tiles.length === 0 && !tableChanged) return null;
    if (tableChanged) bytes += (table.before.length + table.after.length) * RECORD_BYTES;
    const step: HistoryStep = {
      label: this.pendingLabel,
      tiles,
      tableBefore: tableChanged ? table.before : null,
      tableAfter: tableChanged ? table.after : null,
      bytes,
    };
    this.undoStack.push(step);
    this.changeCount++;
    this.totalBytes += bytes;
    for (const s of this.redoStack) this.totalBytes -= s.bytes;
    this.redoStack.length = 0;
    this.enforceCap();
    return step;
  }

  /** Abandons the open step, restoring the tiles it touched. */
  rollback(): void {
    const pending = this.close();
    if (pending) for (const [tile, before] of pending) this.map.writeTile(tile, before);
  }

  /**
   * Drops steps until the cap holds: the oldest undo steps first, then the redo steps
   * farthest from the present. The step next to the present (the newest undo step, or the
   * step just undone) is always kept, so the last action can always be undone or redone.
   */
  private enforceCap(): void {
    const keepUndo = this.redoStack.length === 0 ? 1 : 0;
    while (this.totalBytes > this.capBytes && this.undoStack.length > keepUndo) {
      const dropped = this.undoStack.shift();
      if (dropped) this.totalBytes -= dropped.bytes;
    }
    while (this.totalBytes > this.capBytes && this.redoStack.length > 1) {
      const dropped = this.redoStack.shift();
      if (dropped) this.totalBytes -= dropped.bytes;
    }
  }

  undo(): HistoryStep | null {
    if (this.pending) this.commit();
    const step = this.undoStack.pop();
    if (!step) return null;
    for (const p of step.tiles) {
      if (!p.after) {
        p.after = this.map.readTile(p.tile);
        step.bytes += p.after.byteLength;
        this.totalBytes += p.after.byteLength;
      }
      this.map.writeTile(p.tile, p.before);
    }
    if (step.tableBefore) this.restoreTable(step.tableBefore);
    this.redoStack.push(step);
    this.changeCount++;
    // Undoing captured the step's "after" bytes: the cap must hold with them too.
    this.enforceCap();
    return step;
  }

  redo(): HistoryStep | null {
    if (this.pending) this.commit();
    const step = this.redoStack.pop();
    if (!step) return null;
    for (const p of step.tiles) if (p.after) this.map.writeTile(p.tile, p.after);
    if (step.tableAfter) this.restoreTable(step.tableAfter);
    this.undoStack.push(step);
    this.changeCount++;
    return step;
  }

  clear(): void {
    this.undoStack.length = 0;
    this.redoStack.length = 0;
    this.totalBytes = 0;
  }
}
