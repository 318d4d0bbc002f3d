/**
 * Review mode: the submission with a reference revision as a toggled overlay or as a
 * difference overlay (pixels whose class differs), plus the QA extension slot.
 */
import type { AnnotationDocument } from "../model/document";
import type { LabelMap } from "../model/labelMap";
import type { SegmentTable } from "../model/segments";
import { buildCategoryTable, buildColorTable, packRgba } from "../render/colorTable";
import { TiledLayer } from "../render/tiledLayer";
import { DiffTileSource, LabelTileSource } from "../render/tileSources";
import { h } from "../ui/dom";

export type ReviewShow = "submission" | "reference" | "difference";

export interface ReferenceRevision {
  revision: number;
  revisionId: number;
  author: string;
  map: LabelMap;
  table: SegmentTable;
}

export class ReviewView {
  readonly panel: HTMLElement;
  readonly slot: HTMLElement;
  readonly layers: TiledLayer[] = [];
  private refLayer: TiledLayer | null = null;
  private diffLayer: TiledLayer | null = null;
  show: ReviewShow = "submission";
  private readonly radios = new Map<ReviewShow, HTMLInputElement>();

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly mainLayer: TiledLayer,
    readonly reference: ReferenceRevision | null,
    submissionLabel: string,
    private readonly onChange: () => void,
  ) {
    this.slot = h("div", { className: "tsr-review-slot", "data-testid": "review-slot" });
    const choice = (value: ReviewShow, label: string, enabled: boolean): HTMLElement => {
      const input = h("input", { type: "radio", name: "tsr-review-show", value, disabled: !enabled });
      input.checked = value === this.show;
      input.addEventListener("change", () => this.setShow(value));
      this.radios.set(value, input);
      return h("label", { className: "tsr-radio" }, input, ` ${label}`);
    };
    const refText = reference ? `Reference: revision ${reference.revision} by ${reference.author}` : "No reference revision";
    const diffText = h("p", { className: "tsr-diff-count", "data-testid": "diff-count" }, reference ? "Counting differing pixels…" : "");
    this.panel = h(
      "section",
      { className: "tsr-panel tsr-review" },
      h("h3", {}, "Review"),
      h("p", {}, submissionLabel),
      h("p", {}, refText),
      h(
        "div",
        { className: "tsr-review-show" },
        choice("submission", "Submission", true),
        choice("reference", "Reference (R)", reference !== null),
        choice("difference", "Difference (D)", reference !== null),
      ),
      diffText,
      this.slot,
    );
    if (reference) {
      // One pass over both maps; after the first paint, so opening the page is not slowed.
      setTimeout(() => {
        const n = this.differingPixels();
        const total = doc.map.width * doc.map.height;
        diffText.textContent = `${n.toLocaleString("en")} px differ in class (${((100 * n) / total).toFixed(2)} % of the image)`;
      }, 0);
    }
    if (reference) {
      const lut = buildColorTable(reference.table, doc.taxonomy);
      this.refLayer = new TiledLayer(new LabelTileSource(reference.map, lut), "tsr-layer-reference");
      const diff = new DiffTileSource(
        doc.map,
        reference.map,
        buildCategoryTable(doc.table),
        buildCategoryTable(reference.table),
        packRgba(255, 0, 200, 235),
      );
      this.diffLayer = new TiledLayer(diff, "tsr-layer-diff");
      this.refLayer.visible = false;
      this.diffLayer.visible = false;
      this.layers.push(this.refLayer, this.diffLayer);
    }
  }

  setShow(show: ReviewShow): void {
    if (!this.reference && show !== "submission") return;
    this.show = show;
    const r = this.radios.get(show);
    if (r) r.checked = true;
    this.mainLayer.visible = show === "submission";
    if (this.refLayer) this.refLayer.visible = show === "reference";
    if (this.diffLayer) this.diffLayer.visible = show === "difference";
    this.onChange();
  }

  keyDown(ev: KeyboardEvent): boolean {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return false;
    const k = ev.key.toLowerCase();
    if (k === "r") {
      this.setShow(this.show === "reference" ? "submission" : "reference");
      return true;
    }
    if (k === "d") {
      this.setShow(this.show === "difference" ? "submission" : "difference");
      return true;
    }
    return false;
  }

  /** Count of pixels whose class differs (shown in the panel, handy for reviewers). */
  differingPixels(): number {
    if (!this.reference) return 0;
    const a = this.doc.map.data;
    const b = this.reference.map.data;
    const ca = buildCategoryTable(this.doc.table);
    const cb = buildCategoryTable(this.reference.table);
    let n = 0;
    for (let i = 0; i < a.length; i++) if (ca[a[i]!] !== cb[b[i]!]) n++;
    return n;
  }
}
