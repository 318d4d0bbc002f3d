/** Converting between the editor's model and the API's revision payloads. */
import type { AnnotationDocument } from "../model/document";
import type { SegmentRecord } from "../model/segments";
import type { ApiSegment, SegmentOut } from "./api";

export function recordsFromApi(segments: ApiSegment[]): SegmentRecord[] {
  return segments.map((s) => ({
    id: s.id,
    categoryId: s.category_id,
    iscrowd: s.iscrowd,
    confirmed: s.confirmed,
    source: s.source ?? "editor",
    attributes: s.attributes ?? {},
    polygons: [],
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
      if (s.polygons.length > 0) out.polygons = s.polygons;
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
