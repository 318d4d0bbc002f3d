/**
 * The selected category's specification, visible while drawing: definition, examples,
 * the conflict rules and edge cases that involve it, and a minimum-area warning for the
 * active segment.
 */
import type { AnnotationDocument } from "../model/document";
import { parseColor } from "../model/taxonomy";
import { categoryKey } from "../input/keymap";
import { clear, h } from "./dom";

export class TaxonomyPanel {
  readonly element: HTMLElement;
  private readonly picker: HTMLElement;
  private readonly detail: HTMLElement;
  /** What the detail shows (category, segment, pre-label flag): rebuilt only when it changes. */
  private detailKey = "";
  /** Kept across rebuilds of nothing else: the min-area warning, updated while painting. */
  private readonly warning: HTMLElement;
  /** Times the detail was rebuilt (tests: painting must not rebuild it). */
  detailBuilds = 0;

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly readOnly: boolean,
  ) {
    this.picker = h("div", { className: "tsr-cat-picker" });
    this.detail = h("div", { className: "tsr-cat-detail", "data-testid": "taxonomy-detail" });
    this.warning = h("p", { className: "tsr-warning", role: "alert", "data-testid": "min-area-warning", hidden: true });
    this.element = h("section", { className: "tsr-panel" }, h("h3", {}, "Taxonomy"), this.picker, this.detail);
  }

  render(): void {
    const { doc } = this;
    clear(this.picker);
    doc.taxonomy.categories.forEach((c, i) => {
      const [r, g, b] = parseColor(c.color);
      const ck = categoryKey(c);
      const keys = [i < 9 ? String(i + 1) : "", ck ? (ck.shift ? `⇧${ck.key.toUpperCase()}` : ck.key.toUpperCase()) : ""].filter(Boolean).join(" ");
      this.picker.append(
        h(
          "button",
          {
            type: "button",
            className: `tsr-cat${c.id === doc.activeCategory ? " tsr-selected" : ""}`,
            disabled: this.readOnly,
            "data-category-id": c.id,
            title: c.isthing ? "thing" : "stuff",
            onclick: () => doc.selectCategory(c.id),
          },
          h("span", { className: "tsr-swatch", style: `background: rgb(${r},${g},${b})` }),
          c.name,
          keys ? h("kbd", {}, keys) : null,
        ),
      );
    });
    this.renderDetail();
  }

  private activeSegment(): { cat: ReturnType<AnnotationDocument["category"]>; seg: ReturnType<AnnotationDocument["table"]["get"]> } {
    const { doc } = this;
    const cat = doc.category(doc.activeCategory);
    if (!cat) return { cat, seg: undefined };
    const single = doc.mode === "semantic" || !cat.isthing;
    const seg = doc.table.get(doc.activeSegment) ?? (single ? doc.table.ofCategory(cat.id)[0] : undefined);
    return { cat, seg };
  }

  /**
   * Cheap, while painting: only the min-area warning text. The definition, example images
   * and conflict rules stay as they are (a <details> the annotator closed stays closed).
   */
  refreshWarning(): void {
    const { cat, seg } = this.activeSegment();
    const area = seg ? this.doc.area(seg.id) : 0;
    const text = cat && seg && area > 0 && area < cat.min_area ? `⚠ Segment #${seg.id} has ${area}px, below the minimum ${cat.min_area}px` : "";
    if (this.warning.textContent !== text) this.warning.textContent = text;
    this.warning.hidden = text === "";
  }

  /** Rebuilds the detail when the category or segment it describes changed, else only the warning. */
  renderDetail(): void {
    const { doc } = this;
    const { cat, seg } = this.activeSegment();
    const key = `${cat?.id ?? ""}|${seg?.id ?? ""}|${seg?.confirmed ?? ""}|${doc.activeSegment}`;
    if (key === this.detailKey) {
      this.refreshWarning();
      return;
    }
    this.detailKey = key;
    this.detailBuilds++;
    clear(this.detail);
    if (!cat) return;
    const rules = doc.taxonomy.conflict_rules.filter((r) => r.category_ids.includes(cat.id));
    const edges = doc.taxonomy.edge_cases.filter((e) => e.category_ids.includes(cat.id));
    const name = (id: number): string => doc.category(id)?.name ?? String(id);
    const parts: Array<HTMLElement | null> = [
      h("h4", {}, cat.name, h("small", {}, cat.isthing ? " · thing" : " · stuff", cat.min_area ? ` · min area ${cat.min_area}px` : "")),
      this.readOnly
        ? null
        : h("p", { className: "tsr-active-seg" }, seg ? `Painting segment #${seg.id}${seg.confirmed ? "" : " (pre-label)"}` : "Next stroke starts a new segment"),
      this.warning,
      cat.definition ? h("p", { className: "tsr-definition" }, cat.definition) : null,
      cat.examples.length ? h("div", { className: "tsr-examples" }, ...cat.examples.map((src) => h("img", { src, alt: `${cat.name} example`, loading: "lazy" }))) : null,
      rules.length
        ? h(
            "div",
            { className: "tsr-rules" },
            h("h5", {}, "Conflict rules"),
            ...rules.map((r) =>
              h("details", { open: true }, h("summary", {}, `${r.title} (${r.category_ids.map(name).join(" / ")})`), h("p", {}, r.rule)),
            ),
          )
        : null,
      edges.length
        ? h("div", { className: "tsr-rules" }, h("h5", {}, "Edge cases"), ...edges.map((e) => h("details", {}, h("summary", {}, e.title), h("p", {}, e.description))))
        : null,
    ];
    for (const p of parts) if (p) this.detail.append(p);
    this.refreshWarning();
  }
}
