/** What every drawing tool implements; the input controller routes pointer events to the active one. */
import type { AnnotationDocument } from "../model/document";
import type { Viewport } from "../view/viewport";

export type ToolId = "brush" | "eraser" | "polygon" | "fill";

/** A pointer position in image coordinates (continuous: pixel x covers [x, x+1)). */
export interface ImagePoint {
  x: number;
  y: number;
}

export interface ToolSettings {
  /** Brush and eraser diameter in image pixels. */
  brushSize: number;
  /** Polygons cut holes (pixels of the current segment inside become void). */
  cut: boolean;
}

export interface ToolContext {
  readonly doc: AnnotationDocument;
  readonly viewport: Viewport;
  readonly settings: ToolSettings;
  notify(message: string, kind?: "info" | "warn"): void;
  /** The preview canvas (brush outline, polygon in progress) needs repainting. */
  requestPreview(): void;
}

export interface Tool {
  readonly id: ToolId;
  readonly cursor: string;
  pointerDown(p: ImagePoint, ev: PointerEvent): void;
  /** `samples` are the coalesced positions since the last move, oldest first. */
  pointerMove(samples: ImagePoint[], ev: PointerEvent): void;
  pointerUp(p: ImagePoint, ev: PointerEvent): void;
  /** Returns true when the key was consumed. */
  keyDown(ev: KeyboardEvent): boolean;
  cancel(): void;
  drawPreview(g: CanvasRenderingContext2D, hover: ImagePoint | null): void;
}
