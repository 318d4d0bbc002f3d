/**
 * Routes pointer and wheel events on the stage: navigation first (space/middle button pan,
 * wheel zoom), then the active tool, with every coalesced sample of a move delivered.
 */
import { PanGesture, zoomWithWheel } from "../tools/navigation";
import type { ImagePoint, Tool } from "../tools/tool";
import type { Viewport } from "../view/viewport";

export interface PointerInputHost {
  readonly viewport: Viewport;
  activeTool(): Tool | null;
  /** Wraps a handler so its time counts as frame work. */
  measure(fn: () => void): void;
  hover(p: ImagePoint | null): void;
  /** A click (no drag) when no tool is active, e.g. review mode. */
  click(p: ImagePoint, ev: PointerEvent): void;
  spaceHeld(): boolean;
}

export class PointerInput {
  private readonly pan: PanGesture;
  private toolPointer: number | null = null;
  private downAt: { x: number; y: number } | null = null;
  private stageRect: DOMRect;

  constructor(
    private readonly stage: HTMLElement,
    private readonly host: PointerInputHost,
  ) {
    this.pan = new PanGesture(host.viewport);
    this.stageRect = stage.getBoundingClientRect();
    stage.addEventListener("pointerdown", (e) => this.down(e));
    stage.addEventListener("pointermove", (e) => this.move(e));
    stage.addEventListener("pointerup", (e) => this.up(e));
    stage.addEventListener("pointercancel", (e) => this.up(e));
    stage.addEventListener("pointerleave", () => host.hover(null));
    stage.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    stage.addEventListener("contextmenu", (e) => e.preventDefault());
    // Middle-click autoscroll would fight the pan gesture.
    stage.addEventListener("mousedown", (e) => {
      if (e.button === 1) e.preventDefault();
    });
  }

  /** Call when the stage moves or resizes (layout changes are rare; rects are cached for speed). */
  refreshRect(): void {
    this.stageRect = this.stage.getBoundingClientRect();
  }

  private toImage(clientX: number, clientY: number): ImagePoint {
    return this.host.viewport.toImage(clientX - this.stageRect.left, clientY - this.stageRect.top);
  }

  private down(e: PointerEvent): void {
    this.refreshRect();
    // preventDefault below keeps the browser from moving focus: do it here, so keys typed
    // after using a toolbar control (slider, checkbox…) reach the editor again.
    if (typeof this.stage.focus === "function" && this.stage.ownerDocument?.activeElement !== this.stage) this.stage.focus({ preventScroll: true });
    if (e.button === 1 || (e.button === 0 && this.host.spaceHeld())) {
      e.preventDefault();
      this.stage.setPointerCapture(e.pointerId);
      this.pan.start(e.clientX, e.clientY);
      this.stage.classList.add("tsr-panning");
      return;
    }
    if (e.button !== 0) return;
    e.preventDefault();
    this.stage.setPointerCapture(e.pointerId);
    this.downAt = { x: e.clientX, y: e.clientY };
    const tool = this.host.activeTool();
    if (!tool) return;
    this.toolPointer = e.pointerId;
    const p = this.toImage(e.clientX, e.clientY);
    this.host.measure(() => tool.pointerDown(p, e));
  }

  private move(e: PointerEvent): void {
    if (this.pan.active) {
      this.pan.move(e.clientX, e.clientY);
      return;
    }
    const coalesced = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    const events = coalesced.length > 0 ? coalesced : [e];
    const samples = events.map((c) => this.toImage(c.clientX, c.clientY));
    const last = samples[samples.length - 1]!;
    this.host.hover(last);
    const tool = this.host.activeTool();
    if (!tool) return;
    if (this.toolPointer === e.pointerId) this.host.measure(() => tool.pointerMove(samples, e));
    else tool.pointerMove([], e); // hover only: previews follow the cursor
  }

  private up(e: PointerEvent): void {
    if (this.stage.hasPointerCapture(e.pointerId)) this.stage.releasePointerCapture(e.pointerId);
    if (this.pan.active) {
      this.pan.end();
      this.stage.classList.remove("tsr-panning");
      return;
    }
    const p = this.toImage(e.clientX, e.clientY);
    const tool = this.host.activeTool();
    if (tool && this.toolPointer === e.pointerId) {
      this.toolPointer = null;
      this.host.measure(() => tool.pointerUp(p, e));
    } else if (!tool && this.downAt && e.type === "pointerup") {
      const moved = Math.hypot(e.clientX - this.downAt.x, e.clientY - this.downAt.y);
      if (moved < 4) this.host.click(p, e);
    }
    this.downAt = null;
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    this.refreshRect();
    zoomWithWheel(this.host.viewport, e, e.clientX - this.stageRect.left, e.clientY - this.stageRect.top);
  }
}
