/**
 * Saving: debounced autosave of drafts (only when something changed), explicit save and
 * submit. Each save is a new revision whose `parent` is the revision this work started
 * from; a 409 (someone saved in between) is kept as a "conflict" state the annotator
 * resolves without losing local work.
 */
import type { AnnotationDocument } from "../model/document";
import { ApiError, type ApiErrorItem, type Backend } from "./api";
import type { CodecClient } from "./codecClient";
import { segmentsForSave } from "./revisionIo";

export type SaveState = "clean" | "saving" | "saved" | "error" | "conflict" | "invalid" | "submitted";

export interface SaveStatus {
  state: SaveState;
  message: string;
  /** ISO time of the last state change. */
  at: string | null;
  /** Revision number the local work is based on (the next save's parent). */
  parent: number | null;
  /** Per-item problems of the last 400 (segment_id ties them to segments). */
  errors: ApiErrorItem[];
  /** On conflict: the task's latest revision on the server. */
  currentRevision: number | null;
  /** Encode statistics of the last save. */
  encode: { workerMs: number; mainThreadMs: number; bytes: number } | null;
}

export type SaveKind = "auto" | "manual" | "submit";

export interface SaveOptions {
  autosaveDelayMs?: number;
  /** Longest time continuous editing may postpone an autosave. */
  autosaveMaxWaitMs?: number;
}

export class SaveController {
  status: SaveStatus;
  private savedVersion: number;
  private inFlight: Promise<SaveStatus> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstUnsavedAt = 0;
  private readonly listeners: Array<(s: SaveStatus) => void> = [];
  private readonly delay: number;
  private readonly maxWait: number;
  enabled = true;

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly backend: Backend,
    private readonly codec: CodecClient,
    private readonly taskId: number,
    parent: number | null,
    opts: SaveOptions = {},
  ) {
    this.delay = opts.autosaveDelayMs ?? 3000;
    this.maxWait = opts.autosaveMaxWaitMs ?? 30000;
    this.savedVersion = doc.version;
    this.status = {
      state: "clean",
      message: "",
      at: null,
      parent,
      errors: [],
      currentRevision: null,
      encode: null,
    };
  }

  onStatus(listener: (s: SaveStatus) => void): void {
    this.listeners.push(listener);
  }

  get isDirty(): boolean {
    return this.doc.version !== this.savedVersion;
  }

  get parent(): number | null {
    return this.status.parent;
  }

  /** After the document was replaced wholesale (load theirs, restore backup). */
  resetBaseline(parent: number | null, clean: boolean): void {
    if (clean) this.savedVersion = this.doc.version;
    this.setStatus({ state: "clean", message: "", parent, errors: [], currentRevision: null });
  }

  private setStatus(patch: Partial<SaveStatus>): void {
    this.status = { ...this.status, ...patch, at: new Date().toISOString() };
    for (const l of this.listeners) l(this.status);
  }

  /** Called after every edit: (re)arms the autosave timer. */
  noteChange(): void {
    if (!this.enabled || !this.isDirty || this.status.state === "conflict") return;
    const now = Date.now();
    if (this.firstUnsavedAt === 0) this.firstUnsavedAt = now;
    const wait = Math.max(0, Math.min(this.delay, this.firstUnsavedAt + this.maxWait - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save("auto");
    }, wait);
  }

  async save(kind: SaveKind, force = false): Promise<SaveStatus> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // One save at a time; a save requested meanwhile runs after it with the newer state.
    while (this.inFlight) await this.inFlight;
    if (kind === "auto" && (!this.isDirty || this.status.state === "conflict")) return this.status;
    if (kind === "manual" && !force && !this.isDirty && this.status.state !== "conflict" && this.status.parent !== null) {
      this.setStatus({ state: "saved", message: "No changes to save" });
      return this.status;
    }
    const run = this.doSave(kind);
    this.inFlight = run;
    try {
      return await run;
    } finally {
      this.inFlight = null;
    }
  }

  private async doSave(kind: SaveKind): Promise<SaveStatus> {
    const submit = kind === "submit";
    this.setStatus({ state: "saving", message: submit ? "Submitting…" : "Saving…" });
    try {
      if (submit && !this.isDirty && this.status.parent !== null) {
        await this.backend.submitRevision(this.taskId, this.status.parent);
        this.enabled = false; // the task left the annotator's hands: no more autosaves
        this.setStatus({ state: "submitted", message: "Submitted", errors: [] });
        return this.status;
      }
      const version = this.doc.version;
      const segments = segmentsForSave(this.doc);
      const enc = await this.codec.encode();
      const saved = await this.backend.saveRevision(this.taskId, {
        png: new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" }),
        segments,
        parent: this.status.parent,
        submit,
      });
      this.savedVersion = version;
      this.firstUnsavedAt = 0;
      if (submit) this.enabled = false; // the task left the annotator's hands: no more autosaves
      this.setStatus({
        state: submit ? "submitted" : "saved",
        message: submit ? "Submitted" : kind === "auto" ? "Draft autosaved" : "Saved",
        parent: saved.revision,
        errors: [],
        currentRevision: null,
        encode: { workerMs: enc.workerMs, mainThreadMs: enc.mainThreadMs, bytes: enc.png.byteLength },
      });
      if (this.isDirty) this.noteChange();
    } catch (e) {
      this.handleError(e, kind);
    }
    return this.status;
  }

  private handleError(e: unknown, kind: SaveKind): void {
    if (e instanceof ApiError && e.status === 409) {
      this.setStatus({
        state: "conflict",
        message: e.body.detail ?? "Someone saved this task in the meantime",
        currentRevision: typeof e.body.current_revision === "number" ? e.body.current_revision : null,
        errors: [],
      });
    } else if (e instanceof ApiError && e.status === 400) {
      this.setStatus({
        state: "invalid",
        message: e.body.detail ?? (kind === "submit" ? "Submission refused" : "Save refused"),
        errors: e.body.errors ?? [],
      });
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      this.setStatus({ state: "error", message: `Save failed: ${msg}` });
      // Network hiccup: try again later rather than dropping the draft.
      if (kind === "auto" && this.isDirty) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.save("auto"), 15000);
      }
    }
  }

  /** Conflict resolution "keep mine": re-save the local work on top of the server's latest. */
  async keepMineOnTop(): Promise<SaveStatus> {
    const current = this.status.currentRevision;
    if (current === null) throw new Error("no conflict to resolve");
    this.setStatus({ parent: current, state: "saving", currentRevision: null });
    return this.save("manual", true);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
