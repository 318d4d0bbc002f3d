/**
 * The segments list: colour, category, area, and per-segment actions (select, hide, lock,
 * delete, change category, confirm pre-labels). Server-side submission problems are shown
 * on the row of the segment they concern.
 */
import type { ApiErrorItem } from "../io/api";
import type { AnnotationDocument } from "../model/document";
import { parseColor } from "../model/taxonomy";
import { clear, formatArea, h } from "./dom";

export interface SegmentsPanelOptions {
  readOnly: boolean;
  notify(message: string, kind?: "info" | "warn"): void;
}

export class SegmentsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly general: HTMLElement;
  private readonly summary: HTMLElement;
  private errors: ApiErrorItem[] = [];
  private readonly areaCells = new Map<number, HTMLElement>();
  private readonly warnCells = new Map<number, HTMLElement>();

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly opts: SegmentsPanelOptions,
  ) {
    this.summary = h("div", { className: "tsr-panel-summary" });
    this.general = h("ul", { className: "tsr-errors", hidden: true });
    this.list = h("ul", { className: "tsr-segments", "data-testid": "segments" });
    this.element = h("section", { className: "tsr-panel" }, h("h3", {}, "Segments"), this.summary, this.general, this.list);
  }

  setErrors(errors: ApiErrorItem[]): void {
    this.errors = errors;
    this.render();
  }

  /** Full rebuild: on table or selection changes. */
  render(): void {
    const { doc } = this;
    clear(this.list);
    this.areaCells.clear();
    this.warnCells.clear();
    const segs = doc.table.all();
    const unconfirmed = segs.filter((s) => !s.confirmed && doc.area(s.id) > 0).length;
    this.summary.textContent = `${segs.length} segment${segs.length === 1 ? "" : "s"}` + (unconfirmed ? ` · ${unconfirmed} to confirm` : "");
    const general = this.errors.filter((e) => e.segment_id === undefined || e.segment_id === null);
    clear(this.general);
    this.general.hidden = general.length === 0;
    for (const e of general) this.general.append(h("li", {}, e.message));
    for (const s of segs) {
      const cat = doc.category(s.categoryId);
      const [r, g, b] = parseColor(cat?.color ?? "#888888");
      const area = h("span", { className: "tsr-area" });
      const warn = h("span", { className: "tsr-warn" });
      this.areaCells.set(s.id, area);
      this.warnCells.set(s.id, warn);
      // Only the selected row gets a category picker: hundreds of segments × dozens of
      // categories would otherwise rebuild tens of thousands of <option>s per change.
      const selected = s.id === doc.activeSegment;
      let select: HTMLSelectElement | null = null;
      if (selected && !this.opts.readOnly) {
        const picker = h("select", { title: "Change category", disabled: s.locked });
        for (const c of doc.taxonomy.categories) {
          const o = h("option", { value: c.id }, c.name);
          if (c.id === s.categoryId) o.selected = true;
          picker.append(o);
        }
        picker.addEventListener("change", () => {
          const res = doc.setCategory(s.id, Number(picker.value));
          if (!res.ok) this.opts.notify(res.reason, "warn");
        });
        select = picker;
      }
      const rowErrors = this.errors.filter((e) => e.segment_id === s.id);
      const actions = h(
        "div",
        { className: "tsr-seg-actions" },
        h("button", { type: "button", className: "tsr-icon", title: s.hidden ? "Show" : "Hide", "aria-pressed": s.hidden, onclick: () => doc.setHidden(s.id, !s.hidden) }, s.hidden ? "show" : "hide"),
        this.opts.readOnly
          ? null
          : h("button", { type: "button", className: "tsr-icon", title: s.locked ? "Unlock" : "Lock: never overwritten", "aria-pressed": s.locked, onclick: () => doc.setLocked(s.id, !s.locked) }, s.locked ? "unlock" : "lock"),
        select,
        this.opts.readOnly
          ? null
          : h(
              "button",
              {
                type: "button",
                className: "tsr-icon tsr-delete",
                title: "Delete segment",
                onclick: () => {
                  const res = doc.deleteSegment(s.id);
                  if (!res.ok) this.opts.notify(res.reason, "warn");
                },
              },
              "delete",
            ),
      );
      const li = h(
        "li",
        {
          className: `tsr-seg${selected ? " tsr-selected" : ""}${s.hidden ? " tsr-hidden" : ""}${s.locked ? " tsr-locked" : ""}${rowErrors.length ? " tsr-has-error" : ""}`,
          "data-segment-id": s.id,
        },
        h("span", { className: "tsr-swatch", style: `background: rgb(${r},${g},${b})` }),
        h("button", { type: "button", className: "tsr-seg-name", onclick: () => doc.selectSegment(s.id), title: "Select" }, `#${s.id} ${cat?.name ?? `category ${s.categoryId}`}`),
        area,
        warn,
        !s.confirmed
          ? h("button", { type: "button", className: "tsr-confirm", disabled: this.opts.readOnly, title: "Pre-labelled: check it, then confirm", onclick: () => doc.confirm(s.id) }, "Confirm")
          : null,
        actions,
        rowErrors.length ? h("div", { className: "tsr-seg-errors" }, ...rowErrors.map((e) => h("div", {}, e.message))) : null,
      );
      this.list.append(li);
    }
    this.refreshAreas();
  }

  /** Cheap refresh while painting: only area numbers and min-area warnings. */
  refreshAreas(): void {
    for (const [id, cell] of this.areaCells) {
      const a = this.doc.area(id);
      cell.textContent = formatArea(a);
      const seg = this.doc.table.get(id);
      const cat = seg ? this.doc.category(seg.categoryId) : undefined;
      const warn = this.warnCells.get(id);
      if (!warn) continue;
      const small = cat !== undefined && a > 0 && a < cat.min_area;
      warn.textContent = small ? "⚠" : a === 0 ? "empty" : "";
      warn.title = small ? `Below ${cat.name}'s minimum area (${cat.min_area} px)` : a === 0 ? "Not saved: no pixels" : "";
    }
  }
}
