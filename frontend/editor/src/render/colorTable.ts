/**
 * Segment id → packed RGBA lookup table, read once per pixel by the tile renderer. Packing
 * is little-endian ABGR so a Uint32Array view over ImageData gets whole pixels per store.
 */
import { MAX_LABEL } from "../model/labelMap";
import type { SegmentTable } from "../model/segments";
import { type Taxonomy, parseColor } from "../model/taxonomy";

export function packRgba(r: number, g: number, b: number, a: number): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/** Instances of one thing class get shades of the class colour, so neighbours stay apart. */
function shade(rgb: [number, number, number], index: number): [number, number, number] {
  if (index === 0) return rgb;
  // Golden-ratio steps spread consecutive instances over [-0.35, 0.35] lightness.
  const t = (((index * 0.618033988749895) % 1) - 0.5) * 0.7;
  const f = (c: number): number => Math.round(t >= 0 ? c + (255 - c) * t : c * (1 + t));
  return [f(rgb[0]), f(rgb[1]), f(rgb[2])];
}

export function buildColorTable(table: SegmentTable, taxonomy: Taxonomy, out: Uint32Array = new Uint32Array(MAX_LABEL + 1)): Uint32Array {
  out.fill(0);
  const instanceIndex = new Map<number, number>();
  const colors = new Map(taxonomy.categories.map((c) => [c.id, { rgb: parseColor(c.color), thing: c.isthing }]));
  for (const s of table.all()) {
    if (s.hidden) continue;
    const cat = colors.get(s.categoryId);
    const base: [number, number, number] = cat?.rgb ?? [128, 128, 128];
    const k = instanceIndex.get(s.categoryId) ?? 0;
    instanceIndex.set(s.categoryId, k + 1);
    const [r, g, b] = cat?.thing ? shade(base, k) : base;
    out[s.id] = packRgba(r, g, b, 255);
  }
  return out;
}

/** Segment id → category id (0 for void and unknown ids); used by the difference view. */
export function buildCategoryTable(table: SegmentTable, out = new Int32Array(MAX_LABEL + 1)): Int32Array {
  out.fill(0);
  for (const s of table.all()) out[s.id] = s.categoryId;
  return out;
}
