/** Converting between the editor's model and the API's revision payloads. */
import type { AnnotationDocument } from "../model/document";
import type { PolygonRecord, SegmentRecord } from "../model/segments";
import type { ApiPolygon, ApiSegment, SegmentOut } from "./api";

function isNumberList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x));
}

/** API polygons → records; entries in neither documented shape are dropped, not guessed at. */
export function polygonsFromApi(raw: unknown): PolygonRecord[] {
  if (!Array.isArray(raw)) return [];
  const out: PolygonRecord[] = [];
  for (const p of raw) {
    if (isNumberList(p)) out.push({ vertices: p.slice(), cut: false });
    else if (p && typeof p === "object" && isNumberList((p as { vertices?: unknown }).vertices)) {
      out.push({ vertices: (p as { vertices: number[] }).vertices.slice(), cut: (p as { cut?: unknown }).cut === true });
    }
  }
  return out;
}

/** Records → API: a fill ring stays a plain list (the original contract), a cut ring is an object. */
export function polygonsToApi(polygons: PolygonRecord[]): ApiPolygon[] {
  return polygons.map((p) => (p.cut ? { vertices: p.vertices.slice(), cut: true } : p.vertices.slice()));
}

export function recordsFromApi(segments: ApiSegment[]): SegmentRecord[] {
  return segments.map((s) => ({
    id: s.id,
    categoryId: s.category_id,
    iscrowd: s.iscrowd,
    confirmed: s.confirmed,
    source: s.source ?? "editor",
    attributes: s.attributes ?? {},
    polygons: polygonsFromApi(s.polygons),
  }));
}

/**
 * The `segments` field of a save: exactly the ids present in the map (the server checks
 * ids in the map ⇔ ids in the table), so segments painted away to nothing are left out.
 */
export function segmentsForSave(doc: AnnotationDocument): SegmentOut[] {
  return doc.table
    .all()
    .filter((s) => doc.area(s.id) > 0)
    .map((s) => {
      const out: SegmentOut = {
        id: s.id,
        category_id: s.categoryId,
        iscrowd: s.iscrowd,
        confirmed: s.confirmed,
        attributes: s.attributes,
      };
      if (s.polygons.length > 0) out.polygons = polygonsToApi(s.polygons);
      return out;
    });
}

/** Ids present in the map but missing from the table get a placeholder so nothing is lost. */
export function reconcileTable(doc: AnnotationDocument): number[] {
  const orphans: number[] = [];
  const area = doc.map.area;
  for (let id = 1; id < area.length; id++) if (area[id]! > 0 && !doc.table.has(id)) orphans.push(id);
  return orphans;
}
