/**
 * Brush and eraser share their geometry: a capsule stamped between consecutive pointer
 * samples (all coalesced events, not one per frame), so fast strokes leave no gaps.
 */
import type { ImagePoint, Tool, ToolContext, ToolId } from "./tool";

export class StrokeTool implements Tool {
  readonly cursor = "none";
  private last: ImagePoint | null = null;

  constructor(
    readonly id: ToolId,
    private readonly ctx: ToolContext,
    private readonly erase: boolean,
  ) {}

  private get radius(): number {
    return this.ctx.settings.brushSize / 2;
  }

  pointerDown(p: ImagePoint): void {
    const res = this.ctx.doc.beginStroke(this.erase);
    if (!res.ok) {
      this.ctx.notify(res.reason, "warn");
      return;
    }
    this.last = p;
    this.ctx.doc.strokeTo(p, p, this.radius);
  }

  pointerMove(samples: ImagePoint[]): void {
    if (this.last) {
      for (const s of samples) {
        this.ctx.doc.strokeTo(this.last, s, this.radius);
        this.last = s;
      }
    }
    this.ctx.requestPreview();
  }

  pointerUp(): void {
    if (!this.last) return;
    this.last = null;
    this.ctx.doc.endStroke();
  }

  keyDown(): boolean {
    return false;
  }

  cancel(): void {
    this.pointerUp();
  }

  drawPreview(g: CanvasRenderingContext2D, hover: ImagePoint | null): void {
    if (!hover) return;
    const vp = this.ctx.viewport;
    const c = vp.toStage(hover.x, hover.y);
    const r = Math.max(1.5, this.radius * vp.scale);
    g.lineWidth = 1.5;
    g.strokeStyle = "rgba(0,0,0,0.8)";
    g.beginPath();
    g.arc(c.x, c.y, r + 1, 0, Math.PI * 2);
    g.stroke();
    g.strokeStyle = this.erase ? "rgba(255,120,120,0.95)" : "rgba(255,255,255,0.95)";
    g.beginPath();
    g.arc(c.x, c.y, r, 0, Math.PI * 2);
    g.stroke();
  }
}

export function createBrush(ctx: ToolContext): StrokeTool {
  return new StrokeTool("brush", ctx, false);
}

export function createEraser(ctx: ToolContext): StrokeTool {
  return new StrokeTool("eraser", ctx, true);
}
