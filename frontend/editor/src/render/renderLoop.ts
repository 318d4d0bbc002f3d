/**
 * The single requestAnimationFrame loop. It runs only while there is something to draw
 * (dirty tiles, a preview to repaint), so an idle editor costs no CPU, and it measures
 * per-frame work (input handling since the last frame + this frame's drawing).
 */
import type { TiledLayer } from "./tiledLayer";

export interface FramePerf {
  /** Milliseconds of work per frame: input handlers since the last frame + redraw. */
  samples: number[];
  /** The same frames split: input part, drawing part, tiles drawn. */
  inputMs: number[];
  drawMs: number[];
  tiles: number[];
  recording: boolean;
}

export class RenderLoop {
  private scheduled = false;
  private inputMs = 0;
  private readonly frameTasks: Array<() => void> = [];
  readonly perf: FramePerf = { samples: [], inputMs: [], drawMs: [], tiles: [], recording: false };
  /** Per-frame drawing budget, so a full redraw spreads over frames instead of freezing input. */
  budgetMs = 10;
  priority: ((tile: number) => boolean) | undefined;

  constructor(private readonly layers: () => TiledLayer[]) {}

  pendingTiles(): number {
    return this.layers().reduce((n, l) => n + (l.visible ? l.pending : 0), 0);
  }

  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.frame());
  }

  /** Runs `fn` once in the next frame (preview canvases, panel refreshes). */
  onNextFrame(fn: () => void): void {
    if (!this.frameTasks.includes(fn)) this.frameTasks.push(fn);
    this.request();
  }

  /** Wraps an input handler so its time counts towards the frame it lands in. */
  measureInput<T>(fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.inputMs += performance.now() - t0;
      this.request();
    }
  }

  private frame(): void {
    this.scheduled = false;
    const t0 = performance.now();
    const deadline = t0 + this.budgetMs;
    let left = 0;
    let before = 0;
    for (const layer of this.layers()) before += layer.pending;
    for (const layer of this.layers()) left += layer.flush(deadline, this.priority);
    const tasks = this.frameTasks.splice(0);
    for (const t of tasks) t();
    const draw = performance.now() - t0;
    const work = this.inputMs + draw;
    if (this.perf.recording && work > 0) {
      this.perf.samples.push(work);
      this.perf.inputMs.push(this.inputMs);
      this.perf.drawMs.push(draw);
      this.perf.tiles.push(before - left);
    }
    this.inputMs = 0;
    if (left > 0) this.request();
  }
}
