/** Taxonomy and task shapes as served by the REST API (docs/api.md). */

export type ProjectMode = "semantic" | "instance" | "panoptic";

export interface Category {
  id: number;
  name: string;
  color: string;
  isthing: boolean;
  definition: string;
  min_area: number;
  hotkey: string;
  examples: string[];
}

export interface ConflictRule {
  id: number;
  title: string;
  rule: string;
  category_ids: number[];
  examples: string[];
}

export interface EdgeCase {
  id: number;
  title: string;
  description: string;
  category_ids: number[];
  examples: string[];
}

export interface Taxonomy {
  id: number;
  number: number;
  frozen: boolean;
  categories: Category[];
  conflict_rules: ConflictRule[];
  edge_cases: EdgeCase[];
}

export interface TaskInfo {
  id: number;
  project: string;
  mode: ProjectMode;
  allow_void: boolean;
  kind: string;
  status: string;
  assignee: string | null;
  taxonomy: number;
  image: { id: number; file_name: string; width: number; height: number; url: string };
  latest_revision: number | null;
  can_edit: boolean;
}

export function categoryById(tax: Taxonomy, id: number): Category | undefined {
  return tax.categories.find((c) => c.id === id);
}

/** Stuff paints a single segment per category; in semantic mode every category does. */
export function isSingleSegmentCategory(mode: ProjectMode, cat: Category): boolean {
  return mode === "semantic" || !cat.isthing;
}

/** "#rrggbb" / "#rgb" → [r, g, b]; unknown formats fall back to grey so a typo never breaks drawing. */
export function parseColor(color: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(color.trim());
  if (!m) return [128, 128, 128];
  let hex = m[1]!;
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join("");
  const n = parseInt(hex, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
