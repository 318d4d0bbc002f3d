/**
 * Who may be overwritten. "Draw over" takes pixels from any editable segment; "draw
 * behind" only fills void. Locked and hidden segments are never overwritten in any mode,
 * because the annotator cannot see (hidden) or has protected (locked) them.
 */
import { type WriteGuard, newGuard } from "./labelMap";
import type { SegmentTable } from "./segments";

export type DrawOrder = "over" | "behind";

export interface WriteIntent {
  /** The segment being painted (or, for the eraser, the segment being erased in behind mode). */
  target: number;
  order: DrawOrder;
  erase: boolean;
}

function protect(guard: WriteGuard, table: SegmentTable): void {
  for (const s of table.all()) if (s.hidden || s.locked) guard[s.id] = 0;
}

/** Fills `guard` for one operation (all zeros when it may write nothing) and returns it. */
export function buildGuard(table: SegmentTable, intent: WriteIntent, guard: WriteGuard = newGuard()): WriteGuard {
  const target = table.get(intent.target);
  guard.fill(0);
  if (!intent.erase) {
    // Painting into a protected segment would change it too.
    if (intent.target !== 0 && (!target || target.hidden || target.locked)) return guard;
    if (intent.order === "over") {
      guard.fill(1);
      protect(guard, table);
    } else {
      guard[0] = 1;
    }
    return guard;
  }
  if (intent.order === "over") {
    guard.fill(1);
    guard[0] = 0;
    protect(guard, table);
  } else if (target && !target.hidden && !target.locked) {
    guard[intent.target] = 1;
  }
  return guard;
}
