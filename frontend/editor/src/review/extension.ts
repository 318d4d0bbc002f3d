/**
 * Extension point for the QA workflow (accept/reject decisions, comments pinned to image
 * points). The review page mounts each registered extension with a side-panel slot, a
 * marker layer that follows zoom and pan, and click events on the image.
 */
import type { SegmentRecord } from "../model/segments";

export interface ImageHit {
  x: number;
  y: number;
  /** Segment id in the submission at that pixel (0 = void). */
  label: number;
  categoryId: number | null;
  /** Same, in the reference revision (null without a reference). */
  referenceLabel: number | null;
  referenceCategoryId: number | null;
}

export interface ReviewContext {
  readonly taskId: number;
  readonly revisionId: number | null;
  readonly referenceRevisionId: number | null;
  /** The review item shown (null when the page gave none). */
  readonly reviewItemId: number | null;
  readonly apiBase: string;
  readonly csrfToken: string;
  /** An empty element in the side panel, owned by the extension. */
  readonly panelSlot: HTMLElement;
  /** Screen-space layer over the image for pins; position children with imageToStage. */
  readonly markerLayer: HTMLElement;
  imageToStage(x: number, y: number): { x: number; y: number };
  /** Image coordinates → page (client) coordinates. */
  imageToClient(x: number, y: number): { x: number; y: number };
  hitAt(x: number, y: number): ImageHit;
  segment(id: number): SegmentRecord | undefined;
  /** Called after every zoom/pan, so pins can be repositioned. */
  onViewChange(listener: () => void): void;
}

export interface ReviewExtension {
  mount(ctx: ReviewContext): void;
  /** A click (not a drag) on the image in review mode. */
  onImageClick?(hit: ImageHit, ev: PointerEvent): void;
  /** A key pressed outside text fields; return true when consumed. */
  onKeyDown?(ev: KeyboardEvent): boolean;
}

const registry: ReviewExtension[] = [];

/** Register before or after mount; late registrations are mounted at once. */
export function registerReviewExtension(ext: ReviewExtension): void {
  registry.push(ext);
  for (const l of lateListeners) l(ext);
}

const lateListeners: Array<(ext: ReviewExtension) => void> = [];

export function reviewExtensions(onLate: (ext: ReviewExtension) => void): ReviewExtension[] {
  lateListeners.push(onLate);
  return registry.slice();
}
