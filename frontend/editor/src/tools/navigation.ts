/**
 * Pan (space + drag, or middle button drag) and zoom (wheel around the cursor; "0" fits).
 * Not drawing tools: they work on top of whichever tool is active, also in review mode.
 */
import type { Viewport } from "../view/viewport";

export class PanGesture {
  private lastX = 0;
  private lastY = 0;
  active = false;

  constructor(private readonly viewport: Viewport) {}

  start(clientX: number, clientY: number): void {
    this.active = true;
    this.lastX = clientX;
    this.lastY = clientY;
  }

  move(clientX: number, clientY: number): void {
    if (!this.active) return;
    this.viewport.panBy(clientX - this.lastX, clientY - this.lastY);
    this.lastX = clientX;
    this.lastY = clientY;
  }

  end(): void {
    this.active = false;
  }
}

/** Wheel delta → zoom factor; pixel-mode trackpads and line-mode wheels feel alike. */
export function wheelZoomFactor(ev: WheelEvent): number {
  const unit = ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1;
  const dy = Math.max(-300, Math.min(300, ev.deltaY * unit));
  return Math.exp(-dy * 0.0015);
}

export function zoomWithWheel(viewport: Viewport, ev: WheelEvent, stageX: number, stageY: number): void {
  viewport.zoomAt(stageX, stageY, wheelZoomFactor(ev));
}
