/**
 * `window.tesseraEditor`: a small read-only surface for end-to-end tests and benchmarks
 * (current tool, map size, segments, labels, dirty state, last save status, view transform).
 */
import type { TesseraEditor } from "./editor";
import type { SaveStatus } from "./io/saveController";
import type { ToolId } from "./tools/tool";

export interface SegmentInfo {
  id: number;
  categoryId: number;
  iscrowd: boolean;
  confirmed: boolean;
  source: string;
  hidden: boolean;
  locked: boolean;
  area: number;
}

export interface TesseraEditorHook {
  readonly ready: boolean;
  readonly mode: "edit" | "review" | "fix";
  readonly tool: ToolId | null;
  readonly width: number;
  readonly height: number;
  readonly segments: SegmentInfo[];
  readonly activeSegment: number;
  readonly activeCategory: number;
  readonly brushSize: number;
  readonly isDirty: boolean;
  readonly lastSaveStatus: SaveStatus;
  readonly parentRevision: number | null;
  /** stage = image × scale + offset; stageLeft/Top place the stage in the page (client px). */
  readonly view: { scale: number; offsetX: number; offsetY: number; stageLeft: number; stageTop: number };
  getLabelAt(x: number, y: number): number;
  imageToClient(x: number, y: number): { x: number; y: number };
  /** Tiles still waiting to be drawn (0 = the screen is up to date). */
  readonly pendingTiles: number;
  readonly taxonomyDetailBuilds: number;
}

export function createTestHook(editor: TesseraEditor): TesseraEditorHook {
  const hook: TesseraEditorHook = {
    get ready() {
      return true;
    },
    get mode() {
      return editor.config.mode;
    },
    get tool() {
      return editor.toolId;
    },
    get width() {
      return editor.doc.map.width;
    },
    get height() {
      return editor.doc.map.height;
    },
    get segments() {
      return editor.doc.table.all().map((s) => ({
        id: s.id,
        categoryId: s.categoryId,
        iscrowd: s.iscrowd,
        confirmed: s.confirmed,
        source: s.source,
        hidden: s.hidden,
        locked: s.locked,
        area: editor.doc.area(s.id),
      }));
    },
    get activeSegment() {
      return editor.doc.activeSegment;
    },
    get activeCategory() {
      return editor.doc.activeCategory;
    },
    get brushSize() {
      return editor.settings.brushSize;
    },
    get isDirty() {
      return !editor.readOnly && editor.save.isDirty;
    },
    get lastSaveStatus() {
      return structuredClone(editor.save.status);
    },
    get parentRevision() {
      return editor.save.parent;
    },
    get view() {
      const r = editor.stage.getBoundingClientRect();
      const t = editor.viewport.transform;
      return { ...t, stageLeft: r.left, stageTop: r.top };
    },
    getLabelAt(x: number, y: number) {
      return editor.doc.map.getLabel(Math.floor(x), Math.floor(y));
    },
    imageToClient(x: number, y: number) {
      return editor.imageToClient(x, y);
    },
    get pendingTiles() {
      return editor.loop.pendingTiles();
    },
    get taxonomyDetailBuilds() {
      return editor.taxonomyDetailBuilds;
    },
  };
  return Object.freeze(hook);
}
