/**
 * Review pins: comments pinned to a point (a click) or to a region (a polygon) of the image,
 * written as JSON into the review form's hidden `pins` field, and the pins and regions of the
 * item's existing comments drawn over the image. The pin list's state is plain data
 * (PinDraft) with pure helpers, so it is tested without a browser.
 */
import { h } from "../ui/dom";
import type { ImageHit, ReviewContext, ReviewExtension } from "./extension";

export type PinDraft =
  | { kind: "point"; x: number; y: number; segmentId: number | null; text: string }
  | { kind: "region"; points: Array<[number, number]>; text: string };

/** What the decision endpoint and form accept: {text, x, y, segment_id} or {text, region}. */
export function pinsPayload(pins: PinDraft[]): Array<Record<string, unknown>> {
  return pins.map((p) =>
    p.kind === "point"
      ? { text: p.text.trim(), x: round2(p.x), y: round2(p.y), segment_id: p.segmentId }
      : { text: p.text.trim(), region: p.points.map(([x, y]) => [round2(x), round2(y)]) },
  );
}

/** Index of the first pin without a text (the server refuses those), or -1. */
export function firstPinWithoutText(pins: PinDraft[]): number {
  return pins.findIndex((p) => p.text.trim() === "");
}

export interface ExistingComment {
  author: string;
  text: string;
  x: number | null;
  y: number | null;
  region: Array<[number, number]> | null;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Screen px within which a click on the first corner closes a region. */
const CLOSE_RADIUS = 8;
const SVG = "http://www.w3.org/2000/svg";

export interface PinsOptions {
  /** The form's hidden JSON field; null = the page only shows pins (no decision possible). */
  field: HTMLInputElement | null;
  /** Where the pins being written are listed (with their text inputs). */
  list: HTMLElement | null;
  /** Form whose submit is stopped while a pin has no text. */
  form: HTMLFormElement | null;
  /** Existing comments to draw; default: fetched from GET {apiBase}reviews/{id}/. */
  loadComments?: (ctx: ReviewContext) => Promise<ExistingComment[]>;
}

async function fetchComments(ctx: ReviewContext): Promise<ExistingComment[]> {
  if (ctx.reviewItemId === null) return [];
  const base = ctx.apiBase.endsWith("/") ? ctx.apiBase : `${ctx.apiBase}/`;
  const res = await fetch(`${base}reviews/${ctx.reviewItemId}/`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!res.ok) return [];
  const body = (await res.json()) as { comments?: ExistingComment[] };
  return body.comments ?? [];
}

export class ReviewPins implements ReviewExtension {
  pins: PinDraft[] = [];
  mode: "point" | "region" = "point";
  /** Corners of the region being drawn. */
  drawing: Array<[number, number]> = [];
  private existing: ExistingComment[] = [];
  private ctx: ReviewContext | null = null;
  private svg: SVGSVGElement | null = null;
  private readonly modeButtons = new Map<"point" | "region", HTMLButtonElement>();
  private hint: HTMLElement | null = null;

  constructor(private readonly opts: PinsOptions) {}

  get editable(): boolean {
    return this.opts.field !== null;
  }

  private formHooked = false;

  mount(ctx: ReviewContext): void {
    // Mounted again when the page remounts the editor (after a cancelled fix).
    this.svg?.remove();
    this.modeButtons.clear();
    this.ctx = ctx;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "tsr-pins");
    this.svg.setAttribute("data-testid", "pin-layer");
    this.svg.style.cssText = "position:absolute;inset:0;width:100%;height:100%;pointer-events:none;overflow:visible";
    ctx.markerLayer.append(this.svg);
    ctx.onViewChange(() => this.draw());
    if (this.editable) {
      const btn = (m: "point" | "region", label: string): HTMLButtonElement => {
        const b = h("button", { type: "button", "data-pin-mode": m, onclick: () => this.setMode(m) }, label);
        this.modeButtons.set(m, b);
        return b;
      };
      this.hint = h("p", { className: "tsr-help-note", "data-testid": "pin-hint" });
      ctx.panelSlot.append(
        h("div", { className: "tsr-pin-tools" }, h("strong", {}, "Pin a comment: "), btn("point", "Point"), btn("region", "Region")),
        this.hint,
      );
      this.setMode("point");
      if (!this.formHooked) this.opts.form?.addEventListener("submit", (e) => {
        const i = firstPinWithoutText(this.pins);
        if (i >= 0 || this.drawing.length > 0) {
          e.preventDefault();
          const input = this.opts.list?.querySelectorAll<HTMLInputElement>("input.pin-text")[Math.max(0, i)];
          if (i >= 0 && input) {
            input.setCustomValidity("Say what is wrong here");
            input.reportValidity();
            input.focus();
          } else if (this.hint) this.hint.textContent = "Finish the region first (Enter closes it, Escape cancels it).";
        }
      });
      this.formHooked = true;
    }
    void (this.opts.loadComments ?? fetchComments)(ctx)
      .then((c) => {
        this.existing = c;
        this.draw();
      })
      .catch(() => undefined);
    this.draw();
  }

  setMode(m: "point" | "region"): void {
    this.mode = m;
    this.drawing = [];
    for (const [k, b] of this.modeButtons) b.classList.toggle("tsr-active", k === m);
    if (this.hint) {
      this.hint.textContent =
        m === "point" ? "Click on the image to pin a comment to a point." : "Click the corners of the region; Enter (or a click on the first corner) closes it, Backspace removes a corner, Escape cancels.";
    }
    this.draw();
  }

  onImageClick(hit: ImageHit): void {
    if (!this.editable || !this.ctx) return;
    const { x, y } = hit;
    if (this.mode === "point") {
      this.add({ kind: "point", x, y, segmentId: hit.label > 0 ? hit.label : null, text: "" });
      return;
    }
    const first = this.drawing[0];
    if (first && this.drawing.length >= 3) {
      const a = this.ctx.imageToStage(first[0], first[1]);
      const b = this.ctx.imageToStage(x, y);
      if (Math.hypot(a.x - b.x, a.y - b.y) <= CLOSE_RADIUS) {
        this.closeRegion();
        return;
      }
    }
    this.drawing.push([x, y]);
    this.draw();
  }

  onKeyDown(ev: KeyboardEvent): boolean {
    if (!this.editable || this.mode !== "region" || this.drawing.length === 0) return false;
    if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey) {
      this.closeRegion();
      return true;
    }
    if (ev.key === "Backspace") {
      this.drawing.pop();
      this.draw();
      return true;
    }
    if (ev.key === "Escape") {
      this.drawing = [];
      this.draw();
      return true;
    }
    return false;
  }

  private closeRegion(): void {
    if (this.drawing.length < 3) {
      if (this.hint) this.hint.textContent = "A region needs at least 3 corners.";
      return;
    }
    const points = this.drawing;
    this.drawing = [];
    this.add({ kind: "region", points, text: "" });
  }

  private add(p: PinDraft): void {
    this.pins.push(p);
    this.sync();
    this.renderList(true);
    this.draw();
  }

  remove(i: number): void {
    this.pins.splice(i, 1);
    this.sync();
    this.renderList(false);
    this.draw();
  }

  private sync(): void {
    if (this.opts.field) this.opts.field.value = JSON.stringify(pinsPayload(this.pins));
  }

  private renderList(focusLast: boolean): void {
    const list = this.opts.list;
    if (!list) return;
    list.textContent = "";
    this.pins.forEach((p, i) => {
      const input = h("input", { type: "text", className: "pin-text", placeholder: "What is wrong here?", "aria-label": `Comment for pin ${i + 1}`, value: p.text });
      input.addEventListener("input", () => {
        p.text = input.value;
        input.setCustomValidity("");
        this.sync();
      });
      const where = p.kind === "point" ? `Point (${Math.round(p.x)}, ${Math.round(p.y)})` : `Region (${p.points.length} corners)`;
      list.append(
        h(
          "li",
          { "data-pin-kind": p.kind },
          h("span", { className: "pin-where" }, `${i + 1}. ${where} `),
          h("button", { type: "button", className: "pin-remove", title: "Remove this pin", onclick: () => this.remove(i) }, "remove"),
          input,
        ),
      );
      if (focusLast && i === this.pins.length - 1) setTimeout(() => input.focus(), 0);
    });
  }

  /** Redraws every pin and region in screen coordinates (after zoom and pan too). */
  draw(): void {
    const svg = this.svg;
    const ctx = this.ctx;
    if (!svg || !ctx) return;
    svg.textContent = "";
    const stage = (x: number, y: number): string => {
      const s = ctx.imageToStage(x, y);
      return `${s.x.toFixed(1)},${s.y.toFixed(1)}`;
    };
    const polygon = (pts: Array<[number, number]>, cls: string, closed: boolean, title: string): void => {
      const el = document.createElementNS(SVG, closed ? "polygon" : "polyline");
      el.setAttribute("points", pts.map(([x, y]) => stage(x, y)).join(" "));
      el.setAttribute("class", cls);
      el.setAttribute("fill", closed ? (cls.includes("existing") ? "rgba(60,140,255,0.18)" : "rgba(255,212,0,0.18)") : "none");
      el.setAttribute("stroke", cls.includes("existing") ? "#3c8cff" : "#ffd400");
      el.setAttribute("stroke-width", "2");
      if (!closed) el.setAttribute("stroke-dasharray", "5 3");
      if (title) el.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: title }));
      svg.append(el);
    };
    const point = (x: number, y: number, cls: string, label: string, title: string): void => {
      const s = ctx.imageToStage(x, y);
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", s.x.toFixed(1));
      c.setAttribute("cy", s.y.toFixed(1));
      c.setAttribute("r", "7");
      c.setAttribute("class", cls);
      c.setAttribute("fill", cls.includes("existing") ? "#3c8cff" : "#ffd400");
      c.setAttribute("stroke", "#111");
      c.setAttribute("stroke-width", "2");
      if (title) c.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: title }));
      svg.append(c);
      if (label) {
        const t = document.createElementNS(SVG, "text");
        t.setAttribute("x", (s.x + 9).toFixed(1));
        t.setAttribute("y", (s.y - 8).toFixed(1));
        t.setAttribute("fill", "#fff");
        t.setAttribute("font-size", "12");
        t.textContent = label;
        svg.append(t);
      }
    };
    for (const c of this.existing) {
      const title = `${c.author}: ${c.text}`;
      if (c.region && c.region.length >= 3) polygon(c.region, "pin-existing pin-region", true, title);
      else if (c.x !== null && c.y !== null) point(c.x, c.y, "pin-existing pin-point", "", title);
    }
    this.pins.forEach((p, i) => {
      if (p.kind === "point") point(p.x, p.y, "pin-new pin-point", String(i + 1), p.text);
      else {
        polygon(p.points, "pin-new pin-region", true, p.text);
        const [x, y] = p.points[0]!;
        point(x, y, "pin-new pin-label", String(i + 1), p.text);
      }
    });
    if (this.drawing.length > 0) {
      polygon(this.drawing, "pin-new pin-drawing", false, "");
      for (const [x, y] of this.drawing) point(x, y, "pin-new pin-corner", "", "");
    }
  }
}
