/**
 * The view transform: stage (CSS px, relative to the stage's top-left) = image × scale + offset.
 * Applied as one CSS transform on the world element, so panning and zooming redraw nothing.
 */

export interface ViewTransform {
  scale: number;
  offsetX: number;
  offsetY: number;
}

export const MIN_SCALE = 1 / 64;
export const MAX_SCALE = 64;

export class Viewport {
  scale = 1;
  offsetX = 0;
  offsetY = 0;
  stageWidth = 1;
  stageHeight = 1;
  private readonly listeners: Array<() => void> = [];

  constructor(
    readonly imageWidth: number,
    readonly imageHeight: number,
  ) {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  get transform(): ViewTransform {
    return { scale: this.scale, offsetX: this.offsetX, offsetY: this.offsetY };
  }

  setStageSize(w: number, h: number): void {
    this.stageWidth = Math.max(1, w);
    this.stageHeight = Math.max(1, h);
    this.emit();
  }

  /** Whole image visible, centred, with a small margin. */
  fit(): void {
    const margin = 16;
    const s = Math.min(
      (this.stageWidth - 2 * margin) / this.imageWidth,
      (this.stageHeight - 2 * margin) / this.imageHeight,
    );
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));
    this.offsetX = (this.stageWidth - this.imageWidth * this.scale) / 2;
    this.offsetY = (this.stageHeight - this.imageHeight * this.scale) / 2;
    this.emit();
  }

  /** Zooms by `factor` keeping the image point under (sx, sy) fixed. */
  zoomAt(sx: number, sy: number, factor: number): void {
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const ix = (sx - this.offsetX) / this.scale;
    const iy = (sy - this.offsetY) / this.scale;
    this.scale = next;
    this.offsetX = sx - ix * next;
    this.offsetY = sy - iy * next;
    this.emit();
  }

  panBy(dx: number, dy: number): void {
    this.offsetX += dx;
    this.offsetY += dy;
    this.emit();
  }

  set(t: ViewTransform): void {
    this.scale = t.scale;
    this.offsetX = t.offsetX;
    this.offsetY = t.offsetY;
    this.emit();
  }

  toImage(sx: number, sy: number): { x: number; y: number } {
    return { x: (sx - this.offsetX) / this.scale, y: (sy - this.offsetY) / this.scale };
  }

  toStage(x: number, y: number): { x: number; y: number } {
    return { x: x * this.scale + this.offsetX, y: y * this.scale + this.offsetY };
  }

  /** Image-pixel rectangle currently on screen (clamped to the image). */
  visibleRect(): { x0: number; y0: number; x1: number; y1: number } {
    const a = this.toImage(0, 0);
    const b = this.toImage(this.stageWidth, this.stageHeight);
    return {
      x0: Math.max(0, Math.floor(a.x)),
      y0: Math.max(0, Math.floor(a.y)),
      x1: Math.min(this.imageWidth, Math.ceil(b.x)),
      y1: Math.min(this.imageHeight, Math.ceil(b.y)),
    };
  }

  cssTransform(): string {
    return `translate(${this.offsetX}px, ${this.offsetY}px) scale(${this.scale})`;
  }
}
