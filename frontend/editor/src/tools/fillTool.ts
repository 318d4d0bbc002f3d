/** Bucket: fills the 4-connected region of equal label under the cursor with the current segment. */
import type { ImagePoint, Tool, ToolContext } from "./tool";

export class FillTool implements Tool {
  readonly id = "fill" as const;
  readonly cursor = "cell";

  constructor(private readonly ctx: ToolContext) {}

  pointerDown(p: ImagePoint): void {
    const { doc } = this.ctx;
    if (p.x < 0 || p.y < 0 || p.x >= doc.map.width || p.y >= doc.map.height) return;
    const res = doc.fillAt(p.x, p.y);
    if (!res.ok) this.ctx.notify(res.reason, "warn");
  }

  pointerMove(): void {}
  pointerUp(): void {}
  keyDown(): boolean {
    return false;
  }
  cancel(): void {}
  drawPreview(): void {}
}
