import { AnnotationDocument } from "../src/model/document";
import type { ProjectMode, Taxonomy } from "../src/model/taxonomy";

export const TAXONOMY: Taxonomy = {
  id: 1,
  number: 1,
  frozen: true,
  categories: [
    { id: 10, name: "road", color: "#804080", isthing: false, definition: "", min_area: 0, hotkey: "", examples: [] },
    { id: 20, name: "person", color: "#dc143c", isthing: true, definition: "", min_area: 40, hotkey: "p", examples: [] },
    { id: 30, name: "car", color: "#00008e", isthing: true, definition: "", min_area: 0, hotkey: "", examples: [] },
  ],
  conflict_rules: [],
  edge_cases: [],
};

export function makeDoc(w: number, h: number, mode: ProjectMode = "panoptic", cap?: number): AnnotationDocument {
  return new AnnotationDocument(w, h, { mode, taxonomy: TAXONOMY, historyCapBytes: cap });
}
