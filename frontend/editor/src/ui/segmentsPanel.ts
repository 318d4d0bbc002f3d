/**
 * The segments list: colour, category, area, and per-segment actions (select, hide, lock,
 * delete, change category, confirm pre-labels). Server-side submission problems are shown
 * on the row of the segment they concern.
 */
import type { ApiErrorItem } from "../io/api";
import type { AnnotationDocument } from "../model/document";
import type { Segment } from "../model/segments";
import { parseColor } from "../model/taxonomy";
import { clear, formatArea, h } from "./dom";

export interface SegmentsPanelOptions {
  readOnly: boolean;
  notify(message: string, kind?: "info" | "warn"): void;
}

interface Row {
  li: HTMLElement;
  /** Everything the row shows besides its area: equal keys → the row is reused as is. */
  key: string;
  area: HTMLElement;
  warn: HTMLElement;
  areaText: string;
  warnText: string;
}

export class SegmentsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly general: HTMLElement;
  private readonly summary: HTMLElement;
  private errors: ApiErrorItem[] = [];
  private errorsTitle = "";
  private rows = new Map<number, Row>();

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly opts: SegmentsPanelOptions,
  ) {
    this.summary = h("div", { className: "tsr-panel-summary" });
    this.general = h("ul", { className: "tsr-errors", hidden: true, "data-testid": "save-errors" });
    this.list = h("ul", { className: "tsr-segments", "data-testid": "segments" });
    this.element = h("section", { className: "tsr-panel" }, h("h3", {}, "Segments"), this.summary, this.general, this.list);
  }

  /** Server problems (a refused submit or save), shown until the next submit or a clean save. */
  setErrors(errors: ApiErrorItem[], title = ""): void {
    this.errors = errors;
    this.errorsTitle = title;
    this.render();
  }

  /**
   * On table or selection changes. Rows are keyed by segment: only rows whose content
   * changed are rebuilt (a new segment at the start of a stroke adds one row and moves the
   * selection: three rows, not the whole list).
   */
  render(): void {
    const { doc } = this;
    const segs = doc.table.all();
    const unconfirmed = segs.filter((s) => !s.confirmed && doc.area(s.id) > 0).length;
    const summary = `${segs.length} segment${segs.length === 1 ? "" : "s"}` + (unconfirmed ? ` · ${unconfirmed} to confirm` : "");
    if (this.summary.textContent !== summary) this.summary.textContent = summary;
    const general = this.errors.filter((e) => e.segment_id === undefined || e.segment_id === null);
    clear(this.general);
    this.general.hidden = this.errors.length === 0;
    if (this.errors.length > 0) {
      const onRows = this.errors.length - general.length;
      this.general.append(h("li", { className: "tsr-errors-title" }, `${this.errorsTitle || "Problems"}: ${this.errors.length} problem${this.errors.length === 1 ? "" : "s"}${onRows ? ` (${onRows} marked on the segments below)` : ""}`));
    }
    for (const e of general) this.general.append(h("li", {}, e.message));
    const next = new Map<number, Row>();
    for (const s of segs) {
      const selected = s.id === doc.activeSegment;
      const rowErrors = this.errors.filter((e) => e.segment_id === s.id);
      const key = [s.categoryId, s.hidden, s.locked, s.confirmed, selected, ...rowErrors.map((e) => e.message)].join("|");
      const old = this.rows.get(s.id);
      next.set(s.id, old && old.key === key ? old : this.buildRow(s, selected, rowErrors, key));
    }
    for (const [id, row] of this.rows) if (next.get(id) !== row) row.li.remove();
    this.rows = next;
    let cursor = this.list.firstChild;
    for (const s of segs) {
      const li = next.get(s.id)!.li;
      if (li === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(li, cursor);
    }
    this.refreshAreas();
  }

  private buildRow(s: Segment, selected: boolean, rowErrors: ApiErrorItem[], key: string): Row {
    const { doc } = this;
    const id = s.id;
    const cat = doc.category(s.categoryId);
    const [r, g, b] = parseColor(cat?.color ?? "#888888");
    const area = h("span", { className: "tsr-area" });
    const warn = h("span", { className: "tsr-warn" });
    // Handlers look the segment up when they run: undo may have replaced the object.
    const current = (): Segment | undefined => doc.table.get(id);
    // Only the selected row gets a category picker: hundreds of segments × dozens of
    // categories would otherwise rebuild tens of thousands of <option>s per change.
    let select: HTMLSelectElement | null = null;
    if (selected && !this.opts.readOnly) {
      const picker = h("select", { title: "Change category", disabled: s.locked });
      for (const c of doc.taxonomy.categories) {
        const o = h("option", { value: c.id }, c.name);
        if (c.id === s.categoryId) o.selected = true;
        picker.append(o);
      }
      picker.addEventListener("change", () => {
        const res = doc.setCategory(id, Number(picker.value));
        if (!res.ok) this.opts.notify(res.reason, "warn");
      });
      select = picker;
    }
    const actions = h(
      "div",
      { className: "tsr-seg-actions" },
      h("button", { type: "button", className: "tsr-icon", title: s.hidden ? "Show" : "Hide", "aria-pressed": s.hidden, onclick: () => doc.setHidden(id, !current()?.hidden) }, s.hidden ? "show" : "hide"),
      this.opts.readOnly
        ? null
        : h("button", { type: "button", className: "tsr-icon", title: s.locked ? "Unlock" : "Lock: never overwritten", "aria-pressed": s.locked, onclick: () => doc.setLocked(id, !current()?.locked) }, s.locked ? "unlock" : "lock"),
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
                const res = doc.deleteSegment(id);
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
        "data-segment-id": id,
      },
      h("span", { className: "tsr-swatch", style: `background: rgb(${r},${g},${b})` }),
      h("button", { type: "button", className: "tsr-seg-name", onclick: () => doc.selectSegment(id), title: "Select" }, `#${id} ${cat?.name ?? `category ${s.categoryId}`}`),
      area,
      warn,
      !s.confirmed
        ? h("button", { type: "button", className: "tsr-confirm", disabled: this.opts.readOnly, title: "Pre-labelled: check it, then confirm", onclick: () => doc.confirm(id) }, "Confirm")
        : null,
      actions,
      rowErrors.length ? h("div", { className: "tsr-seg-errors" }, ...rowErrors.map((e) => h("div", {}, e.message))) : null,
    );
    return { li, key, area, warn, areaText: "", warnText: "" };
  }

  /** Cheap refresh while painting: only area numbers and min-area warnings, written when they change. */
  refreshAreas(): void {
    for (const [id, row] of this.rows) {
      const a = this.doc.area(id);
      const areaText = formatArea(a);
      if (areaText !== row.areaText) {
        row.area.textContent = areaText;
        row.areaText = areaText;
      }
      const seg = this.doc.table.get(id);
      const cat = seg ? this.doc.category(seg.categoryId) : undefined;
      const small = cat !== undefined && a > 0 && a < cat.min_area;
      const warnText = small ? "⚠" : a === 0 ? "empty" : "";
      if (warnText !== row.warnText) {
        row.warn.textContent = warnText;
        row.warn.title = small ? `Below ${cat.name}'s minimum area (${cat.min_area} px)` : a === 0 ? "Not saved: no pixels" : "";
        row.warnText = warnText;
      }
    }
  }
}
