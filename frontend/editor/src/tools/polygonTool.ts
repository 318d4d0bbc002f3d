/**
 * Polygon: click vertices, Enter (or a click on the first vertex) closes and fills with
 * pycocotools' pixel rule; Backspace removes the last vertex, Escape cancels. With Alt held
 * or the "cut" toggle on, it cuts a hole into the current segment instead.
 */
import type { ImagePoint, Tool, ToolContext } from "./tool";

/** Screen distance (px) within which a click on the first vertex closes the polygon. */
const CLOSE_RADIUS = 8;

export class PolygonTool implements Tool {
  readonly id = "polygon" as const;
  readonly cursor = "crosshair";
  private vertices: ImagePoint[] = [];
  private altHeld = false;

  constructor(private readonly ctx: ToolContext) {}

  get vertexCount(): number {
    return this.vertices.length;
  }

  private cutting(): boolean {
    return this.ctx.settings.cut || this.altHeld;
  }

  pointerDown(p: ImagePoint, ev: PointerEvent): void {
    this.altHeld = ev.altKey;
    const first = this.vertices[0];
    if (first && this.vertices.length >= 3) {
      const vp = this.ctx.viewport;
      const a = vp.toStage(first.x, first.y);
      const b = vp.toStage(p.x, p.y);
      if (Math.hypot(a.x - b.x, a.y - b.y) <= CLOSE_RADIUS) {
        this.close();
        return;
      }
    }
    this.vertices.push({ x: p.x, y: p.y });
    this.ctx.requestPreview();
  }

  pointerMove(_samples: ImagePoint[], ev: PointerEvent): void {
    this.altHeld = ev.altKey;
    this.ctx.requestPreview();
  }

  pointerUp(): void {}

  close(): boolean {
    if (this.vertices.length < 3) {
      this.ctx.notify("A polygon needs at least 3 vertices", "warn");
      return false;
    }
    const xy = this.vertices.flatMap((v) => [round2(v.x), round2(v.y)]);
    const res = this.ctx.doc.fillPolygon(xy, this.cutting());
    if (!res.ok) this.ctx.notify(res.reason, "warn");
    this.vertices = [];
    this.ctx.requestPreview();
    return res.ok;
  }

  keyDown(ev: KeyboardEvent): boolean {
    this.altHeld = ev.altKey;
    if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey) {
      if (this.vertices.length === 0) return false;
      this.close();
      return true;
    }
    if (ev.key === "Backspace" && this.vertices.length > 0) {
      this.vertices.pop();
      this.ctx.requestPreview();
      return true;
    }
    if (ev.key === "Escape" && this.vertices.length > 0) {
      this.cancel();
      return true;
    }
    return false;
  }

  cancel(): void {
    this.vertices = [];
    this.ctx.requestPreview();
  }

  drawPreview(g: CanvasRenderingContext2D, hover: ImagePoint | null): void {
    if (this.vertices.length === 0) return;
    const vp = this.ctx.viewport;
    const pts = this.vertices.map((v) => vp.toStage(v.x, v.y));
    const h = hover ? vp.toStage(hover.x, hover.y) : null;
    const cut = this.cutting();
    g.lineWidth = 1.5;
    g.strokeStyle = cut ? "rgba(255,90,90,0.95)" : "rgba(255,255,255,0.95)";
    g.fillStyle = cut ? "rgba(255,90,90,0.15)" : "rgba(255,255,255,0.15)";
    g.setLineDash(cut ? [6, 4] : []);
    g.beginPath();
    g.moveTo(pts[0]!.x, pts[0]!.y);
    for (const p of pts.slice(1)) g.lineTo(p.x, p.y);
    if (h) g.lineTo(h.x, h.y);
    g.closePath();
    g.fill();
    g.stroke();
    g.setLineDash([]);
    for (const [i, p] of pts.entries()) {
      g.fillStyle = i === 0 ? "#ffd400" : "#ffffff";
      g.fillRect(p.x - 3, p.y - 3, 6, 6);
    }
  }
}

/** Vertices are kept with 2 decimals: sub-pixel precision well beyond what a click gives. */
function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
