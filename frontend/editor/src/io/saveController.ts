/**
 * Saving: debounced autosave of drafts (only when something changed), explicit save and
 * submit. Each save is a new revision whose `parent` is the revision this work started
 * from; a 409 (someone saved in between) is kept as a "conflict" state the annotator
 * resolves without losing local work.
 *
 * Failures never turn into a burst of requests: after a failed save the next automatic try
 * waits (exponential backoff, 5 s doubling to 60 s) and edits do not bring it forward; only
 * an explicit Save does. Whatever failed to reach the server is written to the local backup
 * (IndexedDB), so closing the tab afterwards loses nothing.
 */
import type { AnnotationDocument } from "../model/document";
import type { SegmentRecord } from "../model/segments";
import { ApiError, type ApiErrorItem, type Backend, type SegmentOut } from "./api";
import type { CodecClient, EncodeResult } from "./codecClient";
import { segmentsForSave } from "./revisionIo";

export type SaveState =
  | "clean"
  | "saving"
  | "saved"
  /** Network or server failure: retried automatically, with backoff. */
  | "error"
  /** 401, or a 403 about the session/CSRF token: sign in again (another tab), then Save. */
  | "signed_out"
  /** 409 stale parent: someone saved in between; the conflict dialog resolves it. */
  | "conflict"
  /** The task (or review) can no longer be saved by this user: work kept locally only. */
  | "not_editable"
  | "invalid"
  | "submitted";

export interface SaveStatus {
  state: SaveState;
  message: string;
  /** ISO time of the last state change. */
  at: string | null;
  /** Revision number the local work is based on (the next save's parent). */
  parent: number | null;
  /** Per-item problems of the last 400 (segment_id ties them to segments). */
  errors: ApiErrorItem[];
  /** Whether `errors` came from a submit (they stay relevant after later draft saves). */
  errorsFromSubmit: boolean;
  /** On conflict: the task's latest revision on the server. */
  currentRevision: number | null;
  /** On not_editable: the task's status on the server, when it said. */
  taskStatus: string | null;
  /** Whether the work that failed to save was written to the local backup. */
  keptLocally: boolean;
  /** Encode statistics of the last save. */
  encode: { workerMs: number; mainThreadMs: number; bytes: number } | null;
}

export type SaveKind = "auto" | "manual" | "submit";

/** What a failed save leaves in the browser (see io/localBackup.ts). */
export interface UnsavedWork {
  savedAt: string;
  parent: number | null;
  png: Blob;
  segments: SegmentRecord[];
}

/** Where work that could not be saved goes; tests use an in-memory one. */
export interface UnsavedWorkStore {
  keep(work: UnsavedWork): Promise<void>;
  /** Drops what keep() stored (called once the server has newer work). */
  drop(): Promise<void>;
}

export interface SaveOptions {
  autosaveDelayMs?: number;
  /** Longest time continuous editing may postpone an autosave. */
  autosaveMaxWaitMs?: number;
  /** First retry delay after a failed save; doubles per failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  unsaved?: UnsavedWorkStore;
  /**
   * "local": drafts (auto and manual saves) only go to the unsaved-work store; the server
   * sees the work when it is submitted (a reviewer's fix, which has no server drafts).
   */
  drafts?: "server" | "local";
}

const AUTH_FAILURE = /csrf|credentials|authenticat|session/i;

/** 401, or a 403 whose message is about the session or the CSRF token. */
export function isSignedOut(e: unknown): boolean {
  if (!(e instanceof ApiError)) return false;
  return e.status === 401 || (e.status === 403 && AUTH_FAILURE.test(e.body.detail ?? ""));
}

export const SIGNED_OUT_MESSAGE = "You were signed out — sign in in another tab, then press Save";

export class SaveController {
  status: SaveStatus;
  private savedVersion: number;
  private inFlight: Promise<SaveStatus> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The pending timer is a retry after a failure (edits do not re-arm it). */
  private retryPending = false;
  private failures = 0;
  private firstUnsavedAt = 0;
  private keptThisSession = false;
  private readonly listeners: Array<(s: SaveStatus) => void> = [];
  private readonly delay: number;
  private readonly maxWait: number;
  private readonly retryBase: number;
  private readonly retryMax: number;
  /** Saves attempted so far (tests and diagnostics). */
  attempts = 0;
  enabled = true;

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly backend: Backend,
    private readonly codec: CodecClient,
    private readonly taskId: number,
    parent: number | null,
    private readonly opts: SaveOptions = {},
  ) {
    this.delay = opts.autosaveDelayMs ?? 3000;
    this.maxWait = opts.autosaveMaxWaitMs ?? 30000;
    this.retryBase = opts.retryBaseMs ?? 5000;
    this.retryMax = opts.retryMaxMs ?? 60000;
    this.savedVersion = doc.version;
    this.status = {
      state: "clean",
      message: "",
      at: null,
      parent,
      errors: [],
      errorsFromSubmit: false,
      currentRevision: null,
      taskStatus: null,
      keptLocally: false,
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
    this.clearTimer();
    this.failures = 0;
    this.setStatus({ state: "clean", message: "", parent, errors: [], errorsFromSubmit: false, currentRevision: null, taskStatus: null });
  }

  private setStatus(patch: Partial<SaveStatus>): void {
    this.status = { ...this.status, ...patch, at: new Date().toISOString() };
    for (const l of this.listeners) l(this.status);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.retryPending = false;
  }

  /** Called after every edit: (re)arms the autosave timer, unless a retry is already scheduled. */
  noteChange(): void {
    if (!this.enabled || !this.isDirty) return;
    const s = this.status.state;
    if (s === "conflict" || s === "not_editable" || s === "submitted") return;
    if (this.retryPending || this.inFlight) return;
    const now = Date.now();
    if (this.firstUnsavedAt === 0) this.firstUnsavedAt = now;
    const wait = Math.max(0, Math.min(this.delay, this.firstUnsavedAt + this.maxWait - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save("auto");
    }, wait);
  }

  /** Delay before the next automatic try after `failures` failures in a row. */
  retryDelay(failures: number): number {
    return Math.min(this.retryMax, this.retryBase * 2 ** Math.max(0, failures - 1));
  }

  async save(kind: SaveKind, force = false): Promise<SaveStatus> {
    this.clearTimer();
    // One save at a time; a save requested meanwhile runs after it with the newer state.
    while (this.inFlight) await this.inFlight;
    const state = this.status.state;
    if (kind === "auto" && (!this.enabled || !this.isDirty || state === "conflict" || state === "not_editable")) return this.status;
    if (state === "not_editable" && !force) return this.status;
    if (kind === "manual" && !force && !this.isDirty && state !== "conflict" && this.status.parent !== null) {
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
    const local = !submit && this.opts.drafts === "local";
    this.attempts++;
    this.setStatus({ state: "saving", message: submit ? "Submitting…" : "Saving…" });
    let enc: EncodeResult | null = null;
    let version = this.doc.version;
    let segments: SegmentOut[] = [];
    let records: SegmentRecord[] = [];
    try {
      if (submit && !this.isDirty && this.status.parent !== null && this.opts.drafts !== "local") {
        await this.backend.submitRevision(this.taskId, this.status.parent);
        this.succeeded();
        this.enabled = false; // the task left the annotator's hands: no more autosaves
        this.setStatus({ state: "submitted", message: "Submitted", errors: [], errorsFromSubmit: false });
        return this.status;
      }
      enc = await this.codec.encode(() => {
        // Exactly the table and version of the pixels being encoded.
        version = this.doc.version;
        segments = segmentsForSave(this.doc);
        records = this.doc.table.snapshot();
      });
      const png = new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" });
      const stats = { workerMs: enc.workerMs, mainThreadMs: enc.mainThreadMs, bytes: enc.png.byteLength };
      if (local) {
        await this.keepUnsaved(png, records);
        this.savedVersion = version;
        this.firstUnsavedAt = 0;
        this.failures = 0;
        this.setStatus({ state: "saved", message: "Kept in this browser", encode: stats, keptLocally: true });
        if (this.isDirty) this.noteChange();
        return this.status;
      }
      const saved = await this.backend.saveRevision(this.taskId, { png, segments, parent: this.status.parent, submit });
      this.savedVersion = version;
      this.succeeded();
      if (submit) this.enabled = false; // the task left the annotator's hands: no more autosaves
      const keepErrors = !submit && this.status.errorsFromSubmit;
      this.setStatus({
        state: submit ? "submitted" : "saved",
        message: submit ? "Submitted" : kind === "auto" ? "Draft autosaved" : "Saved",
        parent: saved.revision,
        errors: keepErrors ? this.status.errors : [],
        errorsFromSubmit: keepErrors,
        currentRevision: null,
        keptLocally: false,
        encode: stats,
      });
      if (this.keptThisSession) {
        // The server now has this session's work: the copy of an earlier failed save is stale.
        this.keptThisSession = false;
        void this.opts.unsaved?.drop().catch(() => undefined);
      }
      if (this.isDirty) this.noteChange();
    } catch (e) {
      let keptLocally = false;
      if (enc && !local) keptLocally = await this.keepUnsaved(new Blob([enc.png as Uint8Array<ArrayBuffer>], { type: "image/png" }), records);
      this.handleError(e, kind, keptLocally);
    }
    return this.status;
  }

  private succeeded(): void {
    this.firstUnsavedAt = 0;
    this.failures = 0;
  }

  private async keepUnsaved(png: Blob, segments: SegmentRecord[]): Promise<boolean> {
    const store = this.opts.unsaved;
    if (!store) return false;
    try {
      await store.keep({ savedAt: new Date().toISOString(), parent: this.status.parent, png, segments });
      this.keptThisSession = true;
      return true;
    } catch {
      return false;
    }
  }

  private scheduleRetry(): void {
    if (!this.enabled || !this.isDirty) return;
    this.clearTimer();
    this.retryPending = true;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.retryPending = false;
      void this.save("auto");
    }, this.retryDelay(this.failures));
  }

  private handleError(e: unknown, kind: SaveKind, keptLocally: boolean): void {
    const kept = keptLocally ? " Your work is kept in this browser." : "";
    if (e instanceof ApiError && e.status === 409 && e.body.code !== "stale_parent" && typeof e.body.current_revision !== "number") {
      // Not a stale parent: the task was submitted elsewhere, reassigned, or the review decided.
      const taskStatus = typeof e.body["task_status"] === "string" ? e.body["task_status"] : null;
      this.enabled = false;
      this.setStatus({
        state: "not_editable",
        message: taskStatus ? `This task is now ${taskStatus.replace(/_/g, " ")}; it cannot be saved here.` : (e.body.detail ?? "This work can no longer be saved here."),
        taskStatus,
        keptLocally,
        errors: [],
      });
    } else if (e instanceof ApiError && e.status === 409) {
      this.setStatus({
        state: "conflict",
        message: e.body.detail ?? "Someone saved this task in the meantime",
        currentRevision: typeof e.body.current_revision === "number" ? e.body.current_revision : null,
        keptLocally,
        errors: [],
      });
    } else if (e instanceof ApiError && e.status === 400) {
      this.setStatus({
        state: "invalid",
        message: e.body.detail ?? (kind === "submit" ? "Submission refused" : "Save refused"),
        errors: e.body.errors ?? [],
        errorsFromSubmit: kind === "submit",
        keptLocally,
      });
      // A refused submit wrote nothing on the server: keep the work there as a draft now.
      if (kind === "submit" && this.opts.drafts !== "local" && this.isDirty) {
        this.clearTimer();
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.save("auto");
        }, 0);
      }
    } else if (isSignedOut(e)) {
      this.failures++;
      this.setStatus({ state: "signed_out", message: SIGNED_OUT_MESSAGE + "." + kept, keptLocally });
      this.scheduleRetry();
    } else if (e instanceof ApiError && e.status === 403) {
      this.enabled = false;
      this.setStatus({ state: "not_editable", message: e.body.detail ?? "You may not save this task.", keptLocally, taskStatus: null });
    } else {
      this.failures++;
      const msg = e instanceof Error ? e.message : String(e);
      this.setStatus({ state: "error", message: `Save failed: ${msg}.${kept}`, keptLocally });
      // Network hiccup or server error: try again later (backoff) rather than dropping the draft.
      this.scheduleRetry();
    }
  }

  /** Conflict resolution "keep mine": re-save the local work on top of the server's latest. */
  async keepMineOnTop(): Promise<SaveStatus> {
    let current = this.status.currentRevision;
    if (current === null) {
      const latest = await this.backend.getLatestAnnotation(this.taskId);
      current = latest?.revision ?? null;
    }
    this.setStatus({ parent: current, state: "saving", currentRevision: null });
    return this.save("manual", true);
  }

  dispose(): void {
    this.clearTimer();
  }
}
